// What a review keeps while it waits for the direct read before a
// missing-subset denial (SPEC §3, §6: "a review releases its object before
// it waits on the network"). A 3 MiB VirtualService parses to tens of MB of
// heap and a problem list of one entry per route; 16 of them waiting at once
// ran the shipped 192 MB heap out. What is kept instead:
//   - the first MAX_PROBLEM_LINES other problems and their count (the
//     verdict is a denial anyway; only the shown lines and the count matter),
//   - the capped warnings,
//   - each distinct host+subset once, and per reference only the index of
//     its pair and its path, packed into one typed array and one string.
// After the read the subset check runs again on the distinct pairs (the
// same rule code, subsetProblemsOf) and the denial is rebuilt as a fresh
// validation of the whole object would write it. (Short-form host hints,
// `reviews.prod` meant as `reviews.prod.svc.cluster.local`, are kept from
// the first pass: a read cannot make such a reference resolve.)
import type { SubsetReference } from './subsets.js';
import type { DestinationRule, Problem, ValidationContext, ValidationResult } from './types.js';
import { MAX_PROBLEM_LINES, sortByPath, subsetProblemsOf } from './validate.js';

export interface PendingSubsetCheck {
  namespace: string;
  /** Non-subset problems, sorted, at most MAX_PROBLEM_LINES of them. */
  otherProblems: Problem[];
  otherProblemCount: number;
  warnings: string[];
  /** Distinct `[host, subset]` pairs, as one JSON text. */
  pairsJson: string;
  /** Per reference, in walk order: index into the pairs. */
  pairOfReference: Uint32Array;
  /** Per reference, in walk order: its path, as one JSON text. */
  pathsJson: string;
}

export interface RecheckedResult {
  /** The first MAX_PROBLEM_LINES problems in path order. */
  problems: Problem[];
  /** All problems, shown or not. */
  problemCount: number;
  warnings: string[];
}

/** Everything the re-check needs from one validation (validateKeepingReferences), so the object and its problem list can be let go. */
export function pendingSubsetCheck(first: { result: ValidationResult; references: readonly SubsetReference[]; namespace: string }): PendingSubsetCheck {
  const { result, references } = first;
  const others = result.problems.filter((problem) => problem.kind !== 'subset');
  const pairIndex = new Map<string, number>();
  const pairs: Array<[string, string]> = [];
  const pairOfReference = new Uint32Array(references.length);
  const paths: string[] = new Array<string>(references.length);
  references.forEach((reference, position) => {
    const key = `${reference.host}\n${reference.subset}`;
    let index = pairIndex.get(key);
    if (index === undefined) {
      index = pairs.length;
      pairIndex.set(key, index);
      pairs.push([reference.host, reference.subset]);
    }
    pairOfReference[position] = index;
    paths[position] = reference.path;
  });
  return {
    namespace: first.namespace,
    // Copies of the strings, not slices: a slice of a parsed string can keep its whole parent alive.
    otherProblems: others.slice(0, MAX_PROBLEM_LINES).map((problem) => ({ path: flat(problem.path), kind: problem.kind, message: flat(problem.message) })),
    otherProblemCount: others.length,
    warnings: result.warnings.map(flat),
    pairsJson: JSON.stringify(pairs),
    pairOfReference,
    pathsJson: JSON.stringify(paths),
  };
}

/** The subset check again, against what `lookup` holds now (after the direct read). */
export function recheckSubsets(
  pending: PendingSubsetCheck,
  lookup: (host: string) => readonly DestinationRule[],
  settings: ValidationContext['settings'],
): RecheckedResult {
  const pairs = JSON.parse(pending.pairsJson) as Array<[string, string]>;
  // One reference per distinct pair: every reference to a pair gets the same answer.
  const pairReferences = pairs.map(([host, subset], index) => ({ path: String(index), host, subset }));
  const missing = new Map<number, Problem>();
  for (const problem of subsetProblemsOf(pairReferences, lookup, pending.namespace, settings)) {
    const index = Number(problem.path);
    // An internal error is reported at its own path ($), not per pair.
    if (Number.isInteger(index) && String(index) === problem.path) missing.set(index, problem);
    else return { problems: [problem, ...pending.otherProblems].slice(0, MAX_PROBLEM_LINES), problemCount: 1 + pending.otherProblemCount, warnings: pending.warnings };
  }
  const subsetProblems: Problem[] = [];
  if (missing.size > 0) {
    const paths = JSON.parse(pending.pathsJson) as string[];
    pending.pairOfReference.forEach((pair, position) => {
      const problem = missing.get(pair);
      if (problem) subsetProblems.push({ path: paths[position]!, kind: 'subset', message: problem.message });
    });
  }
  // The kept problems are the first of theirs in path order, so the first lines of the merge are exact.
  const merged = sortByPath([...pending.otherProblems, ...subsetProblems]);
  return {
    problems: merged.slice(0, MAX_PROBLEM_LINES),
    problemCount: pending.otherProblemCount + subsetProblems.length,
    warnings: pending.warnings,
  };
}

/** A problem's text can be a rope over strings of the parsed object: keep a copy of its own. */
function flat(text: string): string {
  return (' ' + text).slice(1);
}
