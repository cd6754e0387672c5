// SPEC §3 weight rules for one `route` list (http, tcp or tls alike), on
// entries the walker in validate.ts has already narrowed.
import { describeValue, warningLine } from './text.js';
import type { Problem } from './types.js';

/** Absent is not the same as any value: it counts as 0 and earns no single-destination warning. */
export type WeightField = { present: false } | { present: true; value: unknown };

export interface RouteEntry {
  /** `spec.http[0].route[1]` */
  path: string;
  /** False when the entry is not an object: it has no weight to read. */
  isObject: boolean;
  weight: WeightField;
  /** Identity for the duplicate warning (resolved host, subset, port), when the destination is well formed. */
  destinationKey?: string;
  /** The parts of that identity; worded (destinationLabel) only when a warning needs it, not for every entry. */
  destination?: { host: string; subset?: string; port?: number };
}

/** Short human form of an entry's destination, for messages. */
export function destinationLabel(entry: RouteEntry): string | undefined {
  const target = entry.destination;
  if (!target) return undefined;
  return [target.host, target.subset && `subset ${target.subset}`, target.port !== undefined && `port ${target.port}`].filter(Boolean).join(' ');
}

export interface RouteFindings {
  problems: Problem[];
  warnings: string[];
}

export function checkRouteWeights(routePath: string, entries: readonly RouteEntry[]): RouteFindings {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  // Weights Istio would use, or undefined where the sum cannot be computed.
  const weights: Array<number | undefined> = entries.map((entry) => {
    if (!entry.isObject) return undefined;
    if (!entry.weight.present) return 0;
    const value = entry.weight.value;
    if (isValidWeight(value)) return value;
    problems.push({ path: `${entry.path}.weight`, kind: 'weight', message: `must be an integer >= 0, got ${describeValue(value)}` });
    return undefined;
  });

  if (entries.length === 1) {
    const [only] = entries;
    const weight = weights[0];
    // The only destination gets all traffic whatever it says; a weight that
    // claims otherwise is a sign the author forgot a second destination.
    if (only && only.weight.present && weight !== undefined && weight !== 100) {
      warnings.push(warningLine(`${only.path}: weight ${weight} on the only destination; it still gets 100% of traffic`));
    }
    return { problems, warnings };
  }
  if (entries.length === 0) return { problems, warnings };

  entries.forEach((entry, index) => {
    const weight = weights[index];
    if (weight === undefined) return;
    if (weight > 100) {
      problems.push({ path: `${entry.path}.weight`, kind: 'weight', message: `${weight} is more than 100` });
    } else if (weight === 0) {
      const what = entry.weight.present ? 'weight 0' : 'no weight (counts as 0)';
      warnings.push(warningLine(`${entry.path}: ${what}; this destination gets no traffic`));
    }
  });
  if (weights.every((weight) => weight !== undefined)) {
    const sum = weights.reduce<number>((total, weight) => total + (weight ?? 0), 0);
    if (sum !== 100) problems.push({ path: routePath, kind: 'weight', message: `weights sum to ${sum}, must be 100` });
  }

  return { problems, warnings: warnings.concat(duplicateWarnings(entries)) };
}

function duplicateWarnings(entries: readonly RouteEntry[]): string[] {
  const warnings: string[] = [];
  const firstIndex = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (entry.destinationKey === undefined) return;
    const first = firstIndex.get(entry.destinationKey);
    if (first === undefined) {
      firstIndex.set(entry.destinationKey, index);
      return;
    }
    warnings.push(warningLine(`${entry.path}: same destination as route[${first}] (${destinationLabel(entry) ?? entry.destinationKey})`));
  });
  return warnings;
}

export function isValidWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
