// What a review keeps while it waits for the direct read before a
// missing-subset denial (SPEC §3, §6: "a review releases its object before
// it waits on the network"). A 3 MiB VirtualService parses to tens of MB of
// heap; 16 of them waiting at once ran the shipped 192 MB heap out. What is
// kept instead:
//   - the first MAX_PROBLEM_LINES other problems and their count (the
//     verdict is a denial anyway; only the shown lines and the count matter),
//   - the capped warnings,
//   - the references to the pairs that were missing, as numbers
//     (ReferenceTable.filter): a pair found defined needs no second look,
//     since a review with no missing pair is admitted without any read.
// After the read the subset rule runs again on those pairs (the same code,
// missingSubsets) and the denial is rebuilt as a fresh validation would
// write it. Short-form host problems (`reviews.prod` meant as
// `reviews.prod.svc.cluster.local`) are kept from the first pass: a read
// cannot make such a reference resolve.
import { ProblemSink } from './problem-sink.js';
import { flat, type ReferenceTable } from './reference-table.js';
import { missingSubsets } from './subsets.js';
import type { DestinationRule, Problem, ValidationContext } from './types.js';
import { addSubsetProblems, mergeProblems, type Validation } from './validate.js';
import { internalProblem } from './walk.js';

export interface PendingSubsetCheck {
  namespace: string;
  /** Non-subset problems, sorted, at most MAX_PROBLEM_LINES of them. */
  otherProblems: Problem[];
  otherProblemCount: number;
  warnings: string[];
  /** References to the pairs that were missing. */
  references: ReferenceTable;
}

export interface RecheckedResult {
  /** The first MAX_PROBLEM_LINES problems in path order. */
  problems: Problem[];
  /** All problems, shown or not. */
  problemCount: number;
  warnings: string[];
}

/** Everything the re-check needs from one validation, so the object can be let go. */
export function pendingSubsetCheck(first: Validation): PendingSubsetCheck {
  return {
    namespace: first.namespace,
    // Copies of the strings: a slice of a parsed string can keep its whole parent alive.
    otherProblems: first.otherProblems.map((problem) => ({ path: flat(problem.path), kind: problem.kind, message: flat(problem.message) })),
    otherProblemCount: first.otherProblemCount,
    warnings: first.result.warnings.map(flat),
    references: first.references.filter((pair) => first.missingPairs.has(pair)),
  };
}

/** The subset check again, against what `lookup` holds now (after the direct read). */
export function recheckSubsets(
  pending: PendingSubsetCheck,
  lookup: (host: string) => readonly DestinationRule[],
  settings: ValidationContext['settings'],
): RecheckedResult {
  const subsetProblems = new ProblemSink();
  try {
    const missing = missingSubsets(pending.references.pairs, lookup, pending.namespace, settings);
    addSubsetProblems(pending.references, missing, subsetProblems);
  } catch (error) {
    subsetProblems.addProblem(internalProblem(error));
  }
  return {
    problems: mergeProblems(pending.otherProblems, subsetProblems.problems()),
    problemCount: pending.otherProblemCount + subsetProblems.count,
    warnings: pending.warnings,
  };
}
