// Messages that point at the real mistake (SPEC §3 "Point at the real
// mistake", SPEC §4 short forms): fields guides put in the wrong place, and
// Kubernetes DNS short forms that Istio does not expand.
import { resolvedHostOf } from './hosts.js';
import type { ProblemSink } from './problem-sink.js';
import { destinationPath, type Place, type SubsetPair } from './reference-table.js';
import { quote, warningLine } from './text.js';
import type { DestinationRule } from './types.js';
import type { WarningSink } from './weights.js';

export const MISPLACED_WEIGHT_MESSAGE = 'weight belongs beside destination, not inside it';

export function misplacedRuleWeight(rulePath: string): string {
  return `weight belongs beside each destination in ${rulePath}.route, not on the rule`;
}

/**
 * `destination.name` is the pre-v1alpha3 field (v1alpha2 RouteRules named
 * the service there); a Destination names it in `host`.
 */
export function misplacedDestinationField(name: unknown, host: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (host !== undefined) return 'is the pre-v1alpha3 field; host already names the service, so remove name';
  const suggestion = typeof name === 'string' && name.trim() !== '' ? `: write host: ${quote(name.trim(), 63)}` : '';
  return `is the pre-v1alpha3 field; a destination names its service in host${suggestion}`;
}

/**
 * Destinations whose host is written `name.ns` or `name.ns.svc`: each
 * distinct spelling once, and per occurrence only numbers (its place and the
 * index of its subset pair in the walk's ReferenceTable, -1 without a subset).
 */
export class ShortFormTable {
  readonly forms: Array<{ written: string; fullName: string }> = [];
  private readonly byWritten = new Map<string, number>();
  /** Per occurrence, 5 numbers: form, Place, rule index, position, pair. */
  private readonly cells: number[] = [];

  formOf(written: string, fullName: string): number {
    let index = this.byWritten.get(written);
    if (index === undefined) {
      index = this.forms.push({ written, fullName }) - 1;
      this.byWritten.set(written, index);
    }
    return index;
  }

  add(form: number, place: Place, rule: number, position: number, pair: number): void {
    this.cells.push(form, place, rule, position, pair);
  }

  get size(): number {
    return this.cells.length / 5;
  }

  /** Occurrence `at`'s index in `forms`. */
  form(at: number): number {
    return this.cells[at * 5]!;
  }

  /** Occurrence `at`'s subset pair in the walk's ReferenceTable, -1 without a subset. */
  pair(at: number): number {
    return this.cells[at * 5 + 4]!;
  }

  /** The path of occurrence `at`'s `host` field, written when a finding needs it. */
  hostPath(at: number): string {
    const base = at * 5;
    return `${destinationPath(this.cells[base + 1] as Place, this.cells[base + 2]!, this.cells[base + 3]!)}.host`;
  }
}

/**
 * Istio routes `reviews.prod` nowhere; only when the full name is a host a
 * DestinationRule names (so a service the cluster knows) is it surely a
 * mistake and not some external name. With a subset it is denied (the
 * subset is routed to nothing), without one it is a warning. Returns the
 * pairs so reported: their subsets are not checked under the literal host too.
 */
export function shortFormFindings(
  shortForms: ShortFormTable,
  pairs: readonly SubsetPair[],
  destinationRules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]),
  clusterDomain: string,
  problems: ProblemSink,
  warnings: WarningSink,
): Set<number> {
  const reported = new Set<number>();
  if (shortForms.size === 0) return reported;
  const isKnown = knownHosts(destinationRules, clusterDomain);
  const known = shortForms.forms.map((form) => isKnown(form.fullName));
  for (let at = 0; at < shortForms.size; at++) {
    const form = shortForms.form(at);
    if (!known[form]) continue;
    const pair = shortForms.pair(at);
    const { written, fullName } = shortForms.forms[form]!;
    if (pair >= 0) {
      const subset = pairs[pair]!.subset;
      problems.add(
        shortForms.hostPath(at),
        'host',
        `Istio takes ${quote(written, 63)} literally (only dot-less names are expanded), so subset ${quote(subset, 63)} is routed nowhere; ${fullName} is probably meant`,
      );
      reported.add(pair);
    } else {
      // The fix first: a warning is clipped to one terminal line.
      if (warnings.wants()) warnings.add(warningLine(`${shortForms.hostPath(at)}: write ${fullName}; Istio expands only dot-less names`));
      else warnings.skip();
    }
  }
  return reported;
}

/** Exact resolved hosts only: a mesh-wide `*` rule would make every name look known. */
function knownHosts(
  destinationRules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]),
  clusterDomain: string,
): (fqdn: string) => boolean {
  const answers = new Map<string, boolean>();
  let all: Set<string> | undefined;
  return (fqdn) => {
    let known = answers.get(fqdn);
    if (known === undefined) {
      if (typeof destinationRules === 'function') {
        known = destinationRules(fqdn).some((rule) => resolvedHostOf(rule, clusterDomain) === fqdn);
      } else {
        all ??= new Set(destinationRules.map((rule) => resolvedHostOf(rule, clusterDomain)));
        known = all.has(fqdn);
      }
      answers.set(fqdn, known);
    }
    return known;
  };
}
