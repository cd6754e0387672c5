// VirtualService validation (SPEC §3): one walk (walk.ts), then the subset
// rule per distinct host+subset pair (subsets.ts), then the denial as a
// person reads it: the first MAX_PROBLEM_LINES problems in document order
// and the count of the rest.
import { isDns1123Label } from './names.js';
import { namespaceOfHost } from './hosts.js';
import { shortFormFindings } from './mistakes.js';
import { MAX_PROBLEM_LINES, ProblemSink } from './problem-sink.js';
import type { ReferenceTable } from './reference-table.js';
import { missingSubsets, type Explanation, type RuleSource } from './subsets.js';
import type { Problem, ValidationContext, ValidationResult } from './types.js';
import { singleLine, warningLine } from './text.js';
import { field, internalProblem, isRecord, MAX_WARNINGS, safeWalk } from './walk.js';
import { WarningSink } from './weights.js';

export type { SubsetReference } from './subsets.js';
export { MAX_PROBLEM_LINES, sortByPath } from './problem-sink.js';
export { MAX_WARNINGS, ROOT_PATH } from './walk.js';

/** One validation, with what a re-check of its subsets needs without the object (subset-recheck.ts). */
export interface Validation {
  result: ValidationResult;
  namespace: string;
  /** Problems other than missing subsets: the first MAX_PROBLEM_LINES, and the count of all. */
  otherProblems: Problem[];
  otherProblemCount: number;
  /** Every subset reference of the object. */
  references: ReferenceTable;
  /** Pairs of `references` whose subset Istio would not find (reported as such, not as short forms). */
  missingPairs: ReadonlySet<number>;
}

export function validateVirtualService(virtualService: unknown, destinationRules: RuleSource, ctx: ValidationContext): ValidationResult {
  return validateKeepingReferences(virtualService, destinationRules, ctx).result;
}

/**
 * `destinationRules` is either the candidates themselves or a lookup by
 * resolved host (a store's host index): with a lookup, each distinct host
 * the walk met is looked up once.
 */
export function validateKeepingReferences(virtualService: unknown, destinationRules: RuleSource, ctx: ValidationContext): Validation {
  const namespace = namespaceFor(virtualService, ctx);
  const walk = safeWalk(virtualService, namespace, ctx.settings.clusterDomain, ctx.settings.weightPolicy);
  const { problems, references } = walk;
  const hostWarnings = new WarningSink(MAX_WARNINGS);
  const missingPairs = new Set<number>();
  const subsetProblems = new ProblemSink();
  try {
    // A short form that names a known service is reported as such; its
    // subset is then not looked up under the literal name as well.
    const reported = shortFormFindings(walk.shortForms, references.pairs, destinationRules, ctx.settings.clusterDomain, problems, hostWarnings);
    const missing = missingSubsets(references.pairs, destinationRules, namespace, ctx.settings, reported);
    missing.forEach((explain, pair) => explain && missingPairs.add(pair));
    addSubsetProblems(references, missing, subsetProblems);
  } catch (error) {
    problems.addProblem(internalProblem(error));
  }
  const otherProblems = problems.problems();
  const result: ValidationResult = {
    problems: mergeProblems(otherProblems, subsetProblems.problems()),
    problemCount: problems.count + subsetProblems.count,
    warnings: capWarnings(walk.warnings, hostWarnings),
  };
  return { result, namespace, otherProblems, otherProblemCount: problems.count, references, missingPairs };
}

/** Each reference whose pair is missing, as a problem at its path; only the kept ones are written and worded. */
export function addSubsetProblems(references: ReferenceTable, missing: ReadonlyArray<Explanation | undefined>, sink: ProblemSink): void {
  const first = references.firstInPathOrder((pair) => missing[pair] !== undefined, MAX_PROBLEM_LINES);
  for (const reference of first.references) sink.add(references.path(reference), 'subset', missing[references.pair(reference)]!);
  sink.count += first.count - first.references.length;
}

/** The first MAX_PROBLEM_LINES of two lists already in path order (each the first of its own kind). */
export function mergeProblems(a: readonly Problem[], b: readonly Problem[]): Problem[] {
  if (b.length === 0) return a.slice(0, MAX_PROBLEM_LINES);
  const sink = new ProblemSink();
  for (const problem of a) sink.addProblem(problem);
  for (const problem of b) sink.addProblem(problem);
  return sink.problems();
}

export function subsetReferences(virtualService: unknown, ctx: ValidationContext): Array<{ path: string; host: string; subset: string }> {
  return safeWalk(virtualService, namespaceFor(virtualService, ctx), ctx.settings.clusterDomain, ctx.settings.weightPolicy).references.list();
}

/**
 * Namespaces one review may read directly before a denial: its own, the root
 * namespace, then those of the hosts. More than this and the rest are
 * answered from the cache (2,000 hosts `svc.tenant-<i>` were 2,002 LISTs).
 */
export const MAX_REFRESH_NAMESPACES = 16;

export interface RefreshPlan {
  /** Valid DNS-1123 namespace names, each once: own namespace, hosts' namespaces, root namespace. */
  namespaces: string[];
  /** Namespaces left out by MAX_REFRESH_NAMESPACES: the review answers for them from the cache. */
  omitted: number;
  /** Names that are not DNS-1123 labels (`..`, `a/b`, 64 characters) and were never going to be read. */
  invalid: number;
}

/** `namespaces` of `refreshPlan`. */
export function namespacesToRefresh(virtualService: unknown, ctx: ValidationContext, problems?: readonly Problem[]): string[] {
  return refreshPlan(virtualService, ctx, problems).namespaces;
}

/**
 * Which namespaces to re-read before denying. With `problems`, only the
 * hosts of the missing-subset references at their paths count (no other
 * answer can change by reading more).
 */
export function refreshPlan(virtualService: unknown, ctx: ValidationContext, problems?: readonly Problem[]): RefreshPlan {
  const namespace = namespaceFor(virtualService, ctx);
  const references = safeWalk(virtualService, namespace, ctx.settings.clusterDomain, ctx.settings.weightPolicy).references;
  const missing = problems && new Set(problems.filter((problem) => problem.kind === 'subset').map((problem) => problem.path));
  const hosts: string[] = [];
  for (let reference = 0; reference < references.size; reference++) {
    if (!missing || missing.has(references.path(reference))) hosts.push(references.pairs[references.pair(reference)]!.host);
  }
  return refreshPlanOf(hosts, namespace, ctx);
}

/**
 * refreshPlan for the hosts of a validation's missing pairs, in order. A name
 * that is not a DNS-1123 label is dropped: an empty or `..` namespace in a
 * read path would list the whole cluster.
 */
export function refreshPlanOf(hosts: Iterable<string>, namespace: string, ctx: ValidationContext): RefreshPlan {
  const root = ctx.settings.rootNamespace;
  const hostNamespaces = new Set<string>();
  const seen = new Set<string>();
  let invalid = 0;
  for (const host of hosts) {
    const hostNamespace = namespaceOfHost(host, ctx.settings.clusterDomain);
    if (hostNamespace === undefined || hostNamespace === namespace || hostNamespace === root || seen.has(hostNamespace)) continue;
    seen.add(hostNamespace);
    if (isDns1123Label(hostNamespace)) hostNamespaces.add(hostNamespace);
    else invalid++;
  }
  const fixed = [namespace, root].filter((name, index, all) => all.indexOf(name) === index);
  const valid = fixed.filter(isDns1123Label);
  invalid += fixed.length - valid.length;
  const room = Math.max(0, MAX_REFRESH_NAMESPACES - valid.length);
  const kept = [...hostNamespaces].slice(0, room);
  const own = valid.includes(namespace) ? [namespace] : [];
  const rootKept = root !== namespace && valid.includes(root) ? [root] : [];
  return { namespaces: [...own, ...kept, ...rootKept], omitted: hostNamespaces.size - kept.length, invalid };
}

/** The hosts of a validation's missing pairs, for refreshPlanOf. */
export function missingHosts(validation: Pick<Validation, 'references' | 'missingPairs'>): string[] {
  return [...validation.missingPairs].map((pair) => validation.references.pairs[pair]!.host);
}

/** `total`: how many problems there are when `problems` holds only the first of them (sorted). */
export function formatProblems(problems: readonly Problem[], total = problems.length): string {
  const lines = problems.slice(0, MAX_PROBLEM_LINES).map((problem) => singleLine(`${problem.path}: ${problem.message}`));
  const rest = total - lines.length;
  if (rest > 0) lines.push(`... and ${rest} more problem${rest === 1 ? '' : 's'}`);
  return lines.join('\n');
}

/**
 * `request.namespace` is authoritative (SPEC §5); offline callers may leave
 * it empty, and then the object's own namespace, then Kubernetes' default.
 */
export function namespaceFor(virtualService: unknown, ctx: ValidationContext): string {
  if (ctx.namespace !== '') return ctx.namespace;
  const metadata = isRecord(virtualService) ? field(virtualService, 'metadata') : undefined;
  const own = isRecord(metadata) ? field(metadata, 'namespace') : undefined;
  return typeof own === 'string' && own !== '' ? own : 'default';
}

/** The walk's warnings (first MAX_WARNINGS kept, all counted), then `more`'s: as if all were listed and then cut. */
function capWarnings(walked: WarningSink, more: WarningSink): string[] {
  const total = walked.count + more.count;
  const listed = [...walked.kept, ...more.kept];
  if (total <= MAX_WARNINGS) return listed;
  const kept = listed.slice(0, MAX_WARNINGS - 1);
  return [...kept, warningLine(`... and ${total - kept.length} more warnings`)];
}
