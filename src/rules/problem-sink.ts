// Problems of one review, kept as a denial shows them: the first
// MAX_PROBLEM_LINES in document order, and the count of all. A 3 MiB
// VirtualService can carry 100,000 problems; holding and sorting every one
// (path string, object, message) cost more than the rest of the review, and
// a reader sees 100 lines of them.
import type { Problem } from './types.js';

/** More lines than this in one denial help nobody; the count of the rest is kept. */
export const MAX_PROBLEM_LINES = 100;

/** A problem whose message is worded only if it is shown (a missing-subset explanation reads the rules). */
interface Entry {
  path: string;
  kind: Problem['kind'];
  message: string | (() => string);
}

/**
 * Keeps the `limit` first problems by `comparePaths`, in order, and counts all.
 * Problems arrive nearly in document order (the walk's order), so a new one
 * usually costs one comparison with the last kept and is dropped.
 * Problems with equal paths keep the order they were added in.
 */
export class ProblemSink {
  private readonly kept: Entry[] = [];
  count = 0;

  constructor(private readonly limit = MAX_PROBLEM_LINES) {}

  add(path: string, kind: Problem['kind'], message: string | (() => string)): void {
    this.count++;
    const kept = this.kept;
    if (kept.length === this.limit && (this.limit === 0 || comparePaths(path, kept[kept.length - 1]!.path) >= 0)) return;
    // Upper bound: after every kept problem with a path <= this one.
    let low = 0;
    let high = kept.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (comparePaths(kept[middle]!.path, path) <= 0) low = middle + 1;
      else high = middle;
    }
    kept.splice(low, 0, { path, kind, message });
    if (kept.length > this.limit) kept.pop();
  }

  addProblem(problem: Problem): void {
    this.add(problem.path, problem.kind, problem.message);
  }

  /** The kept problems, messages worded, in path order. */
  problems(): Problem[] {
    return this.kept.map(({ path, kind, message }) => ({ path, kind, message: typeof message === 'string' ? message : message() }));
  }
}

/**
 * Document order of two paths: `spec.http[2]` before `spec.http[10]`, a
 * route's sum before its entries. Segments are split at `.`, `[` and `]`;
 * two numeric segments compare as numbers, any others as text. No string is
 * built: this runs for every problem of a 100,000-route object.
 */
export function comparePaths(a: string, b: string): number {
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && isSeparator(a.charCodeAt(i))) i++;
    while (j < b.length && isSeparator(b.charCodeAt(j))) j++;
    if (i >= a.length || j >= b.length) return (i >= a.length ? 0 : 1) - (j >= b.length ? 0 : 1);
    let endA = i;
    while (endA < a.length && !isSeparator(a.charCodeAt(endA))) endA++;
    let endB = j;
    while (endB < b.length && !isSeparator(b.charCodeAt(endB))) endB++;
    const order = compareSegments(a, i, endA, b, j, endB);
    if (order !== 0) return order;
    i = endA;
    j = endB;
  }
}

/** Stable: problems with equal paths keep their order. */
export function sortByPath(problems: readonly Problem[]): Problem[] {
  return problems.map((problem, index) => ({ problem, index })).sort((x, y) => comparePaths(x.problem.path, y.problem.path) || x.index - y.index).map(({ problem }) => problem);
}

function isSeparator(code: number): boolean {
  return code === 0x2e /* . */ || code === 0x5b /* [ */ || code === 0x5d /* ] */;
}

function isDigits(text: string, start: number, end: number): boolean {
  for (let k = start; k < end; k++) {
    const code = text.charCodeAt(k);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function compareSegments(a: string, startA: number, endA: number, b: string, startB: number, endB: number): number {
  if (isDigits(a, startA, endA) && isDigits(b, startB, endB)) {
    // As numbers, without parsing: leading zeros skipped, then the longer is larger.
    while (startA < endA - 1 && a.charCodeAt(startA) === 0x30) startA++;
    while (startB < endB - 1 && b.charCodeAt(startB) === 0x30) startB++;
    if (endA - startA !== endB - startB) return endA - startA - (endB - startB);
  }
  const length = Math.min(endA - startA, endB - startB);
  for (let k = 0; k < length; k++) {
    const difference = a.charCodeAt(startA + k) - b.charCodeAt(startB + k);
    if (difference !== 0) return difference;
  }
  return endA - startA - (endB - startB);
}
