// Where a VirtualService names subsets, kept compactly: each distinct
// host+subset pair once, and per reference only numbers (its pair and its
// place in the object). 42,000 routes to one missing subset used to be
// 42,000 reference objects, 42,000 path strings and 42,000 problems, most of
// a 192 MB heap's work; the rules decide per pair, and a path is written only
// for a line a denial shows.

/** Where a destination sits; the path of a reference is built from it on demand. */
export const Place = { HttpRoute: 0, TcpRoute: 1, TlsRoute: 2, HttpMirror: 3, HttpMirrors: 4 } as const;
export type Place = (typeof Place)[keyof typeof Place];

const ROUTE_KINDS = ['http', 'tcp', 'tls'] as const;

/** `spec.http[0].route[1]`, `spec.http[0].mirror`, `spec.http[0].mirrors[2].destination`: the path a subset problem names. */
export function referencePath(place: Place, rule: number, position: number): string {
  if (place === Place.HttpMirror) return `spec.http[${rule}].mirror`;
  if (place === Place.HttpMirrors) return `spec.http[${rule}].mirrors[${position}].destination`;
  return `spec.${ROUTE_KINDS[place as 0 | 1 | 2]}[${rule}].route[${position}]`;
}

/** The destination object's path: where its `host` and `subset` fields are. */
export function destinationPath(place: Place, rule: number, position: number): string {
  return place === Place.HttpMirror || place === Place.HttpMirrors ? referencePath(place, rule, position) : `${referencePath(place, rule, position)}.destination`;
}

export interface SubsetPair {
  /** Resolved FQDN. */
  host: string;
  subset: string;
}

const CELLS = 5;
/** Order of the places inside one http rule, as their paths sort: `mirror` < `mirrors` < `route`. */
const PLACE_ORDER = [2, 2, 2, 0, 1];
/** Order of the sections: `http` < `tcp` < `tls`. */
const SECTION_ORDER = [0, 1, 2, 0, 0];

export class ReferenceTable {
  /** Distinct pairs, in the order first referenced. */
  readonly pairs: SubsetPair[] = [];
  private readonly pairIndex = new Map<string, Map<string, number>>();
  /** Per reference, CELLS numbers: pair, Place, rule index, position (route or mirrors index), 1 when it carries traffic. */
  private cells = new Int32Array(64);
  private length = 0;

  get size(): number {
    return this.length;
  }

  /** Index of the pair, adding it when new. */
  pairOf(host: string, subset: string): number {
    let bySubset = this.pairIndex.get(host);
    if (!bySubset) this.pairIndex.set(host, (bySubset = new Map()));
    let index = bySubset.get(subset);
    if (index === undefined) {
      index = this.pairs.push({ host, subset }) - 1;
      bySubset.set(subset, index);
    }
    return index;
  }

  /**
   * `traffic`: the destination gets a share of requests (SPEC §10: weight > 0,
   * or the only one of its route); a mirror or a weight-0 entry does not.
   */
  add(host: string, subset: string, place: Place, rule: number, position: number, traffic: boolean): void {
    this.addPair(this.pairOf(host, subset), place, rule, position, traffic);
  }

  /** A reference to pair `pair` (from pairOf). */
  addPair(pair: number, place: Place, rule: number, position: number, traffic: boolean): void {
    this.push(pair, place, rule, position, traffic ? 1 : 0);
  }

  carriesTraffic(reference: number): boolean {
    return this.cells[reference * CELLS + 4] === 1;
  }

  pair(reference: number): number {
    return this.cells[reference * CELLS]!;
  }

  path(reference: number): string {
    const at = reference * CELLS;
    return referencePath(this.cells[at + 1] as Place, this.cells[at + 2]!, this.cells[at + 3]!);
  }

  /**
   * The references whose pair `wanted` says yes to: the first `limit` in
   * path order (as comparePaths orders their paths) and how many there are.
   * Numbers are compared, no path is written.
   */
  firstInPathOrder(wanted: (pair: number) => boolean, limit: number): { references: number[]; count: number } {
    const first: number[] = [];
    let count = 0;
    for (let reference = 0; reference < this.length; reference++) {
      if (!wanted(this.pair(reference))) continue;
      count++;
      if (first.length === limit && this.compare(reference, first[first.length - 1]!) >= 0) continue;
      let low = 0;
      let high = first.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (this.compare(first[middle]!, reference) <= 0) low = middle + 1;
        else high = middle;
      }
      first.splice(low, 0, reference);
      if (first.length > limit) first.pop();
    }
    return { references: first, count };
  }

  /** Each reference as an object, in walk order: for callers that want few of them (the guard, tests). */
  list(): Array<{ path: string; host: string; subset: string }> {
    return Array.from({ length: this.size }, (_, reference) => ({ path: this.path(reference), ...this.pairs[this.pair(reference)]! }));
  }

  /**
   * Only the references whose pair `keep` says yes to, with pairs renumbered:
   * what a review keeps across its direct read. Strings are copied, so none
   * of them is a slice or rope that keeps the parsed object alive.
   */
  filter(keep: (pair: number, traffic: boolean) => boolean): ReferenceTable {
    const kept = new ReferenceTable();
    const renumbered = new Int32Array(this.pairs.length).fill(-1);
    const cells = this.cells;
    for (let at = 0; at < this.length * CELLS; at += CELLS) {
      const pair = cells[at]!;
      if (!keep(pair, cells[at + 4] === 1)) continue;
      let index = renumbered[pair]!;
      if (index === -1) {
        const { host, subset } = this.pairs[pair]!;
        index = renumbered[pair] = kept.pairOf(flat(host), flat(subset));
      }
      kept.push(index, cells[at + 1]!, cells[at + 2]!, cells[at + 3]!, cells[at + 4]!);
    }
    return kept;
  }

  private push(pair: number, place: number, rule: number, position: number, traffic: number): void {
    let at = this.length * CELLS;
    if (at + CELLS > this.cells.length) {
      const grown = new Int32Array(this.cells.length * 2);
      grown.set(this.cells);
      this.cells = grown;
    }
    const cells = this.cells;
    cells[at++] = pair;
    cells[at++] = place;
    cells[at++] = rule;
    cells[at++] = position;
    cells[at] = traffic;
    this.length++;
  }

  /** Path order of two references: section, rule, place within the rule, position. */
  private compare(a: number, b: number): number {
    const cells = this.cells;
    const x = a * CELLS;
    const y = b * CELLS;
    const placeX = cells[x + 1]!;
    const placeY = cells[y + 1]!;
    return (
      SECTION_ORDER[placeX]! - SECTION_ORDER[placeY]! ||
      cells[x + 2]! - cells[y + 2]! ||
      PLACE_ORDER[placeX]! - PLACE_ORDER[placeY]! ||
      cells[x + 3]! - cells[y + 3]!
    );
  }
}

/** A string of its own (not a slice or rope over another). */
export function flat(text: string): string {
  return (' ' + text).slice(1);
}
