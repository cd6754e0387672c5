// POST /validate: the imperative shell around validateVirtualService, with
// the direct read that keeps a stale cache from causing a false denial.
import { meshClaimWarnings } from '../rules/mesh-hosts.js';
import type { JsonObject, ValidationContext, ValidationResult } from '../rules/types.js';
import { formatProblems, refreshPlan, validateVirtualService } from '../rules/validate.js';
import { requestNamespace, reviewSubject, type AdmissionRequest, type AdmissionVerdict } from './admission.js';
import type { AppDeps } from './deps.js';
import { recordAdmitted } from './record-admitted.js';
import { checkReadiness } from './review-ready.js';
import { refreshNamespacesShared } from './review-refresh.js';

const virtualService = { group: 'networking.istio.io', kind: 'VirtualService', resource: 'virtualservices' };

export async function reviewVirtualService(request: AdmissionRequest, deps: AppDeps): Promise<AdmissionVerdict> {
  const startedMs = Date.now();
  const subject = reviewSubject(request, virtualService);
  if ('verdict' in subject) return subject.verdict;
  const { object } = subject;
  const ctx: ValidationContext = { namespace: requestNamespace(request), settings: deps.settings };
  let result = validateAgainstCache(object, ctx, deps);
  if (result.problems.some((problem) => problem.kind === 'subset')) {
    // The cache may simply not have seen a DestinationRule applied a moment ago
    // (same `kubectl apply -f` file): ask the source of truth before denying.
    try {
      // Shared with concurrent reviews, but always a read sent after this one looked at the cache.
      const plan = refreshPlan(object, ctx, result.problems);
      if (plan.omitted > 0) deps.logger.info({ uid: request.uid, omitted: plan.omitted }, 'direct read capped; other namespaces answered from the cache');
      await refreshNamespacesShared(deps.store, plan.namespaces);
      result = validateAgainstCache(object, ctx, deps);
    } catch (error) {
      deps.logger.warn({ uid: request.uid, err: (error as Error).message }, 'direct DestinationRule read failed; answering from the cache');
    }
  }
  if (result.problems.length > 0) {
    return { allowed: false, message: formatProblems(result.problems), warnings: result.warnings };
  }
  // SPEC §10, only for an object that is otherwise admitted.
  const ready = await checkReadiness(object, ctx.namespace, request.uid, startedMs, deps);
  const warnings = [...result.warnings, ...claimWarnings(request, object, ctx.namespace, deps), ...ready.warnings];
  if (ready.problems.length > 0) return { allowed: false, message: formatProblems(ready.problems), warnings };
  recordAdmitted(deps, request, 'VirtualService', ctx.namespace, object);
  return { allowed: true, warnings };
}

/** SPEC §3: another VirtualService of the namespace already claims one of this one's hosts for the mesh. */
function claimWarnings(request: AdmissionRequest, object: JsonObject, namespace: string, deps: AppDeps): string[] {
  const routing = deps.store.routing;
  if (!routing) return [];
  const meta = object.metadata as { name?: unknown } | undefined;
  const name = typeof meta?.name === 'string' ? meta.name : typeof request.name === 'string' ? request.name : '';
  return meshClaimWarnings(object, name, namespace, (host) => routing.meshClaims(namespace, host), deps.settings.clusterDomain);
}

/** One walk: the rules look up each referenced host in the store's host index as they meet it. */
function validateAgainstCache(object: unknown, ctx: ValidationContext, deps: AppDeps): ValidationResult {
  return validateVirtualService(object, (host) => deps.store.candidatesForHost(host), ctx);
}
