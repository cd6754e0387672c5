// POST /validate: the imperative shell around validateVirtualService, with
// the direct read that keeps a stale cache from causing a false denial.
import { meshClaimWarnings } from '../rules/mesh-hosts.js';
import { isDns1123Label } from '../rules/names.js';
import type { ReadinessQuery } from '../rules/readiness.js';
import { ReferenceTable } from '../rules/reference-table.js';
import { pendingSubsetCheck, recheckSubsets, type PendingSubsetCheck } from '../rules/subset-recheck.js';
import { quote } from '../rules/text.js';
import type { JsonObject, ValidationContext } from '../rules/types.js';
import { formatProblems, missingHosts, refreshPlanOf, validateKeepingReferences } from '../rules/validate.js';
import { requestNamespace, reviewSubject, type AdmissionRequest, type AdmissionVerdict } from './admission.js';
import type { AppDeps } from './deps.js';
import { recordAdmitted } from './record-admitted.js';
import { checkReadiness, readinessQueriesOf } from './review-ready.js';
import { directReads } from './review-refresh.js';

const virtualService = { group: 'networking.istio.io', kind: 'VirtualService', resource: 'virtualservices' };

export async function reviewVirtualService(request: AdmissionRequest, deps: AppDeps): Promise<AdmissionVerdict> {
  const startedMs = Date.now();
  const first = firstPass(request, deps);
  if ('verdict' in first) return first.verdict;
  // The object is not needed any more, and the reads below may take seconds:
  // 32 reviews of 3 MiB each must not all hold theirs meanwhile (SPEC §6).
  request.object = undefined;
  request.oldObject = undefined;
  if ('admitted' in first) {
    // SPEC §10, only for an object that is otherwise admitted; only the small queries cross the wait.
    const { warnings, readiness, record } = first.admitted;
    const verdict = await readinessVerdict(readiness, warnings, request.uid, startedMs, deps);
    if (verdict.allowed) record?.();
    return verdict;
  }
  const { pending, traffic, namespaces } = first;
  try {
    // The cache may simply not have seen a DestinationRule applied a moment ago
    // (same `kubectl apply -f` file): ask the source of truth before denying.
    // Shared with concurrent reviews, but always a read sent after this one looked at the cache.
    await directReads(deps).refresh(namespaces, request.uid);
  } catch (error) {
    deps.logger.warn({ uid: request.uid, err: (error as Error).message }, 'direct DestinationRule read failed; answering from the cache');
  }
  const result = recheckSubsets(pending, (host) => deps.store.candidatesForHost(host), deps.settings);
  if (result.problemCount > 0) {
    return { allowed: false, message: formatProblems(result.problems, result.problemCount), warnings: result.warnings };
  }
  // Admitted after all (the cache had not seen a rule yet): SPEC §10 as for any admitted object, from the kept references.
  return readinessVerdict(readinessQueriesOf(traffic, pending.namespace, deps), result.warnings, request.uid, startedMs, deps);
}

/** SPEC §10 for an object the rules admit: its warnings plus readiness's, or readiness's denial. */
async function readinessVerdict(queries: readonly ReadinessQuery[], warnings: readonly string[], uid: string, startedMs: number, deps: AppDeps): Promise<AdmissionVerdict> {
  const ready = await checkReadiness(queries, uid, startedMs, deps);
  const all = [...warnings, ...ready.warnings];
  if (ready.problemCount > 0) return { allowed: false, message: formatProblems(ready.problems, ready.problemCount), warnings: all };
  return { allowed: true, warnings: all };
}

/**
 * Everything that needs the object, synchronously: either the verdict, or
 * what the re-check after the direct read needs (a few small arrays). Kept
 * out of the async function so no variable of it holds the object across the
 * read.
 */
interface Admitted {
  warnings: string[];
  readiness: ReadinessQuery[];
  /** Standalone only (its store keeps admitted objects anyway); a cluster store learns them from its watch. */
  record?: () => void;
}

function firstPass(request: AdmissionRequest, deps: AppDeps): { verdict: AdmissionVerdict } | { admitted: Admitted } | { pending: PendingSubsetCheck; traffic: ReferenceTable; namespaces: string[] } {
  const subject = reviewSubject(request, virtualService);
  if ('verdict' in subject) return subject;
  const { object } = subject;
  const namespace = requestNamespace(request);
  // `..` or `a/b` would turn the direct read into a list of some other URL (`..` lists every namespace).
  if (!isDns1123Label(namespace)) {
    return { verdict: { allowed: false, message: `namespace ${quote(namespace)} is not a valid namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)` } };
  }
  const ctx: ValidationContext = { namespace, settings: deps.settings };
  // One walk: the rules look up each referenced host in the store's host index as they meet it.
  const first = validateKeepingReferences(object, (host) => deps.store.candidatesForHost(host), ctx);
  const { result } = first;
  if (first.missingPairs.size === 0) {
    if (result.problemCount > 0) return { verdict: { allowed: false, message: formatProblems(result.problems, result.problemCount), warnings: result.warnings } };
    const warnings = [...result.warnings, ...claimWarnings(request, object, namespace, deps)];
    const record = deps.store.routing?.recordAdmitted ? () => recordAdmitted(deps, request, 'VirtualService', namespace, object) : undefined;
    return { admitted: { warnings, readiness: readinessQueriesOf(first.references, namespace, deps), record } };
  }
  // The review's own namespace and the root namespace first: they decide the most hosts.
  // From the references of that walk: a 3 MiB object is not walked again.
  const plan = refreshPlanOf(missingHosts(first), first.namespace, ctx);
  if (plan.omitted > 0) deps.logger.info({ uid: request.uid, omitted: plan.omitted }, 'direct read capped; other namespaces answered from the cache');
  const namespaces = [...new Set([namespace, deps.settings.rootNamespace, ...plan.namespaces])];
  // What gets traffic, as numbers: if the read shows every subset defined, readiness is checked from these.
  const traffic = deps.readiness && deps.settings.readyPolicy !== 'off' ? first.references.filter((_pair, carries) => carries) : new ReferenceTable();
  return { pending: pendingSubsetCheck(first), traffic, namespaces };
}

/** SPEC §3: another VirtualService of the namespace already claims one of this one's hosts for the mesh. */
function claimWarnings(request: AdmissionRequest, object: JsonObject, namespace: string, deps: AppDeps): string[] {
  const routing = deps.store.routing;
  if (!routing) return [];
  const meta = object.metadata as { name?: unknown } | undefined;
  const name = typeof meta?.name === 'string' ? meta.name : typeof request.name === 'string' ? request.name : '';
  return meshClaimWarnings(object, name, namespace, (host) => routing.meshClaims(namespace, host), deps.settings.clusterDomain);
}
