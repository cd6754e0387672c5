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

/** A well-formed destination: its resolved host, subset and port (the duplicate warning's identity). */
export interface RouteDestination {
  host: string;
  subset?: string;
  port?: number;
}

/** Short human form of a destination, for messages. */
export function destinationLabel(target: RouteDestination): string {
  return [target.host, target.subset && `subset ${target.subset}`, target.port !== undefined && `port ${target.port}`].filter(Boolean).join(' ');
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

  /** How many more texts would be kept. */
  room(): number {
    return this.limit - this.kept.length;
  }

  add(text: string): void {
    this.count++;
    if (this.kept.length < this.limit) this.kept.push(text);
  }

  skip(): void {
    this.count++;
  }

  /** The text of `make`, made only if it would be kept. */
  offer(make: () => string): void {
    if (this.wants()) this.add(make());
    else this.skip();
  }
}

/** Where a route's problems go (the walk's ProblemSink). */
export interface ProblemTarget {
  add(path: string, kind: Problem['kind'], message: string): void;
}

/**
 * The weight rules of one `route` list, fed one entry at a time as the walk
 * meets them, so nothing per entry is kept: a 100,000-entry route costs a
 * running sum and a map of distinct destinations, and each entry's path is
 * written only for a line that is reported. Warnings come out in the order
 * a reader expects: the entries' own, then the sum, then duplicates.
 */
export class RouteWeights {
  private readonly limit: number;
  /** `spec.<section>[<rule>].route`, written only for a problem or warning (42,000 one-entry routes need none). */
  private section = '';
  private rule = 0;
  private length = 0;
  private sum = 0;
  /** Every entry's weight is usable (an object with a valid weight or none). */
  private summable = true;
  private withinLimit = true;
  private anyPresent = false;
  /** First position of each destination; made at the second entry (most routes have one). */
  private firstByDestination: Map<string, Map<string, Map<number | undefined, number>>> | undefined;
  /** The route's first destination, kept as its parts until a second one needs the map. */
  private firstHost: string | undefined;
  private firstSubset: string | undefined;
  private firstPort: number | undefined;
  private firstPosition = 0;
  /** Duplicates that may still be worded: [position, first position, destination]. */
  private duplicates: Array<[number, number, RouteDestination]> | undefined;
  private duplicateCount = 0;

  /** One instance serves every route of a walk, one route at a time (`start` … `add` … `finish`). */
  constructor(
    private readonly policy: WeightPolicy,
    private readonly problems: ProblemTarget,
    private readonly warnings: WarningSink,
  ) {
    this.limit = maxWeight(policy);
  }

  /** A new route list, `spec.<section>[<rule>].route`, with `length` entries. */
  start(section: string, rule: number, length: number): void {
    this.section = section;
    this.rule = rule;
    this.length = length;
    this.sum = 0;
    this.summable = true;
    this.withinLimit = true;
    this.anyPresent = false;
    this.firstByDestination = undefined;
    this.firstHost = undefined;
    this.firstPosition = 0;
    this.duplicates = undefined;
    this.duplicateCount = 0;
  }

  /**
   * Entry `position`: `weight` is its `weight` field as read (undefined when
   * absent); `isObject` false when the entry is not an object (it has no
   * weight to read). `target` may be the caller's scratch object, reused for
   * the next entry: what is kept of it is copied.
   */
  add(position: number, isObject: boolean, weight: unknown, target: RouteDestination | undefined): void {
    const present = isObject && weight !== undefined;
    const value = this.weightOf(position, isObject, weight);
    if (target) this.noteDestination(position, target);
    if (this.length === 1) {
      // The only destination gets all traffic whatever it says; a weight that
      // claims otherwise is a sign the author forgot a second destination.
      if (present && value !== undefined && value !== 100) {
        if (!this.warnings.wants()) return this.warnings.skip();
        this.warnings.add(warningLine(`${this.entryPath(position)}: weight ${value} on the only destination; it still gets 100% of traffic`));
      }
      return;
    }
    if (value === undefined) return;
    if (value > this.limit) {
      this.withinLimit = false;
      this.problems.add(`${this.entryPath(position)}.weight`, 'weight', `${value} is more than ${this.limit}`);
    } else if (value === 0) {
      // Per entry, so no closure: past the first MAX_WARNINGS this is a count.
      if (!this.warnings.wants()) return this.warnings.skip();
      this.warnings.add(warningLine(`${this.entryPath(position)}: ${present ? 'weight 0' : 'no weight (counts as 0)'}; this destination gets no traffic`));
    }
  }

  finish(): void {
    if (this.length > 1 && this.summable) {
      // A misplaced `weight` (inside `destination`, or on the http entry) is
      // pruned by the API server's structural schema before admission, so the
      // webhook sees a route with no weight at all: say so.
      const hint = this.anyPresent ? '' : `; ${NO_WEIGHT_HINT}`;
      const { sum } = this;
      const routePath = this.routePath();
      if (this.policy === 'sum-100') {
        if (sum !== 100) this.problems.add(routePath, 'weight', `weights sum to ${sum}, must be 100${hint}`);
      } else if (sum === 0) {
        this.problems.add(routePath, 'weight', `weights sum to 0; Istio refuses a route whose destinations all have weight 0${hint}`);
      } else if (sum !== 100 && this.withinLimit) {
        this.warnings.offer(() => warningLine(`${routePath}: weights sum to ${sum}, not 100; each destination gets weight/${sum} of traffic`));
      }
    }
    const duplicates = this.duplicates ?? [];
    for (const [position, first, target] of duplicates) {
      this.warnings.offer(() => warningLine(`${this.entryPath(position)}: same destination as route[${first}] (${destinationLabel(target)})`));
    }
    for (let rest = this.duplicateCount - duplicates.length; rest > 0; rest--) this.warnings.skip();
  }

  /** The weight Istio would use, or undefined where the sum cannot be computed. */
  private weightOf(position: number, isObject: boolean, value: unknown): number | undefined {
    if (!isObject) {
      this.summable = false;
      return undefined;
    }
    if (value === undefined) return 0;
    this.anyPresent = true;
    if (isValidWeight(value)) {
      this.sum += value;
      return value;
    }
    this.summable = false;
    this.problems.add(`${this.entryPath(position)}.weight`, 'weight', `must be an integer >= 0, got ${describeValue(value)}`);
    return undefined;
  }

  private noteDestination(position: number, target: RouteDestination): void {
    if (this.firstByDestination === undefined) {
      if (this.firstHost === undefined) {
        this.firstHost = target.host;
        this.firstSubset = target.subset;
        this.firstPort = target.port;
        this.firstPosition = position;
        return;
      }
      this.firstByDestination = new Map();
      this.firstPositionOf(this.firstHost, this.firstSubset, this.firstPort, this.firstPosition);
    }
    const first = this.firstPositionOf(target.host, target.subset, target.port, position);
    if (first === position) return;
    this.duplicateCount++;
    // No more can be shown than the sink has room for now.
    this.duplicates ??= [];
    if (this.duplicates.length < this.warnings.room()) this.duplicates.push([position, first, { host: target.host, subset: target.subset, port: target.port }]);
  }

  /** Where this destination first appeared, recording `position` when it is new. */
  private firstPositionOf(host: string, subset: string | undefined, port: number | undefined, position: number): number {
    const byHost = this.firstByDestination!;
    let bySubset = byHost.get(host);
    if (!bySubset) byHost.set(host, (bySubset = new Map()));
    let byPort = bySubset.get(subset ?? '');
    if (!byPort) bySubset.set(subset ?? '', (byPort = new Map()));
    const first = byPort.get(port);
    if (first !== undefined) return first;
    byPort.set(port, position);
    return position;
  }

  private entryPath(position: number): string {
    return `${this.routePath()}[${position}]`;
  }

  private routePath(): string {
    return `spec.${this.section}[${this.rule}].route`;
  }
}

export function isValidWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
