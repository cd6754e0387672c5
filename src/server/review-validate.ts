// POST /validate: the imperative shell around validateVirtualService, with
// the direct read that keeps a stale cache from causing a false denial.
import type { ValidationContext, ValidationResult } from '../rules/types.js';
import { formatProblems, refreshPlan, validateVirtualService } from '../rules/validate.js';
import { requestNamespace, reviewSubject, type AdmissionRequest, type AdmissionVerdict } from './admission.js';
import type { AppDeps } from './deps.js';
import { refreshNamespacesShared } from './review-refresh.js';

const virtualService = { group: 'networking.istio.io', kind: 'VirtualService', resource: 'virtualservices' };

export async function reviewVirtualService(request: AdmissionRequest, deps: AppDeps): Promise<AdmissionVerdict> {
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
  return { allowed: true, warnings: result.warnings };
}

/** One walk: the rules look up each referenced host in the store's host index as they meet it. */
function validateAgainstCache(object: unknown, ctx: ValidationContext, deps: AppDeps): ValidationResult {
  return validateVirtualService(object, (host) => deps.store.candidatesForHost(host), ctx);
}
