// SPEC §3 weight rules for one `route` list (http, tcp or tls alike), on
// entries the walker in validate.ts has already narrowed.
//
// Istio's own validation (istio/istio pkg/config/validation/validation.go,
// validateHTTPRouteDestinations and validateRouteDestinations) refuses a
// negative weight and, with more than one destination, a total of 0 ("total
// destination weight = 0"); Envoy has no cluster to pick then. Since Istio
// 1.15 (istio/istio PR #39544) it no longer asks for a sum of 100: weights
// are proportions. `sum-100` keeps the rule every canary guide teaches;
// `proportional` follows the runtime. src/policy/ compiles the same rules to
// CEL for the API server, and test/policy-agreement.test.ts holds the two to
// the same verdict.
import { describeValue, warningLine } from './text.js';
import type { Problem, WeightPolicy } from './types.js';

export const WEIGHT_POLICIES: readonly WeightPolicy[] = ['sum-100', 'proportional'];
/** Under sum-100 every weight is a percentage. */
export const MAX_PERCENT_WEIGHT = 100;
/** Envoy's weighted clusters carry weights as uint32. */
export const MAX_PROPORTIONAL_WEIGHT = 4_294_967_295;
/** The sum message's tail when every weight is absent (e.g. pruned from a misplaced `destination.weight`). */
export const NO_WEIGHT_HINT = 'no destination of this route has a weight';

export function maxWeight(policy: WeightPolicy): number {
  return policy === 'proportional' ? MAX_PROPORTIONAL_WEIGHT : MAX_PERCENT_WEIGHT;
}

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

/**
 * Warnings kept up to `limit` and only counted past it: a route of 100,000
 * destinations without a weight earns 200,000 warnings of which a denial
 * shows 20, so the rest are never worded.
 */
export class WarningSink {
  readonly kept: string[] = [];
  count = 0;

  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  /** Whether the next warning's text would be kept; when not, call `skip`. */
  wants(): boolean {
    return this.kept.length < this.limit;
  }

  add(text: string): void {
    this.count++;
    if (this.kept.length < this.limit) this.kept.push(text);
  }

  skip(): void {
    this.count++;
  }
}

/** With `sink`, warnings go there (in order) and the returned list is empty. */
export function checkRouteWeights(routePath: string, entries: readonly RouteEntry[], policy: WeightPolicy = 'sum-100', sink?: WarningSink): RouteFindings {
  const problems: Problem[] = [];
  const own = sink ?? new WarningSink();
  const warn = (text: () => string): void => (own.wants() ? own.add(text()) : own.skip());
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
      warn(() => warningLine(`${only.path}: weight ${weight} on the only destination; it still gets 100% of traffic`));
    }
    return { problems, warnings: sink ? [] : own.kept };
  }
  if (entries.length === 0) return { problems, warnings: sink ? [] : own.kept };

  const limit = maxWeight(policy);
  let withinLimit = true;
  entries.forEach((entry, index) => {
    const weight = weights[index];
    if (weight === undefined) return;
    if (weight > limit) {
      withinLimit = false;
      problems.push({ path: `${entry.path}.weight`, kind: 'weight', message: `${weight} is more than ${limit}` });
    } else if (weight === 0) {
      if (!own.wants()) return own.skip();
      const what = entry.weight.present ? 'weight 0' : 'no weight (counts as 0)';
      own.add(warningLine(`${entry.path}: ${what}; this destination gets no traffic`));
    }
  });
  if (weights.every((weight) => weight !== undefined)) {
    const sum = weights.reduce<number>((total, weight) => total + (weight ?? 0), 0);
    // A misplaced `weight` (inside `destination`, or on the http entry) is
    // pruned by the API server's structural schema before admission, so the
    // webhook sees a route with no weight at all: say so.
    const hint = entries.every((entry) => !entry.weight.present) ? `; ${NO_WEIGHT_HINT}` : '';
    if (policy === 'sum-100') {
      if (sum !== 100) problems.push({ path: routePath, kind: 'weight', message: `weights sum to ${sum}, must be 100${hint}` });
    } else if (sum === 0) {
      problems.push({ path: routePath, kind: 'weight', message: `weights sum to 0; Istio refuses a route whose destinations all have weight 0${hint}` });
    } else if (sum !== 100 && withinLimit) {
      warn(() => warningLine(`${routePath}: weights sum to ${sum}, not 100; each destination gets weight/${sum} of traffic`));
    }
  }

  duplicateWarnings(entries, own);
  return { problems, warnings: sink ? [] : own.kept };
}

function duplicateWarnings(entries: readonly RouteEntry[], warnings: WarningSink): void {
  const firstIndex = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (entry.destinationKey === undefined) return;
    const first = firstIndex.get(entry.destinationKey);
    if (first === undefined) {
      firstIndex.set(entry.destinationKey, index);
      return;
    }
    if (!warnings.wants()) return warnings.skip();
    warnings.add(warningLine(`${entry.path}: same destination as route[${first}] (${destinationLabel(entry) ?? entry.destinationKey})`));
  });
}

export function isValidWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
