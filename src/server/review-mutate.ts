// POST /mutate: the imperative shell around mutateDeployment.
import { mutateDeployment } from '../rules/mutate.js';
import { diffPatch } from '../rules/patch.js';
import { warningLine } from '../rules/text.js';
import { requestNamespace, reviewSubject, type AdmissionRequest, type AdmissionVerdict } from './admission.js';
import type { AppDeps } from './deps.js';
import { recordAdmitted } from './record-admitted.js';
import { rememberDeployment } from './review-ready.js';

const deployment = { group: 'apps', kind: 'Deployment', resource: 'deployments' };

export async function reviewDeployment(request: AdmissionRequest, deps: AppDeps): Promise<AdmissionVerdict> {
  const subject = reviewSubject(request, deployment);
  if ('verdict' in subject) return subject.verdict;
  const { operation, object } = subject;
  const namespace = requestNamespace(request);
  const outcome = mutateDeployment(object, {
    operation,
    namespace,
    oldObject: operation === 'UPDATE' ? request.oldObject : undefined,
    settings: deps.settings,
    // A store without a Namespace cache, or a namespace it does not know, reads as unlabelled.
    namespaceLabels: deps.store.namespaceLabels?.(namespace),
  });
  if (outcome.kind === 'skip') {
    rememberDeployment(object, requestNamespace(request), request.dryRun === true, deps);
    return { allowed: true };
  }
  if (outcome.kind === 'deny') return { allowed: false, message: outcome.message };

  const warnings = [...outcome.warnings];
  const patch = diffPatch(object, outcome.mutated);
  if (request.dryRun === true) {
    warnings.push(`dry run: DestinationRule subset "${outcome.subset.subsetName}" of ${outcome.subset.service} was not written`);
    return { allowed: true, patch, warnings };
  }

  const result = await deps.store.ensureSubset(outcome.subset, Date.now() + deps.subsetWriteTimeoutMs);
  deps.metrics.subsetEnsured(result.outcome);
  if (result.outcome === 'refused') return { allowed: false, message: result.reason };
  if (result.outcome === 'failed') {
    const reason = `could not add subset "${outcome.subset.subsetName}" to the DestinationRule for ${outcome.subset.host}: ${result.reason}`;
    if (deps.onSubsetError === 'deny') return { allowed: false, message: `${reason} (retry the apply; the webhook retries conflicts for ${deps.subsetWriteTimeoutMs} ms)` };
    deps.logger.warn({ uid: request.uid, reason }, 'subset write failed; allowing as --on-subset-error=warn says');
    return { allowed: true, patch, warnings: [...warnings, warningLine(`subset not written: ${result.reason}`)] };
  }
  recordAdmitted(deps, request, 'Deployment', requestNamespace(request), outcome.mutated);
  rememberDeployment(outcome.mutated, outcome.subset.namespace, false, deps);
  return { allowed: true, patch, warnings: [...warnings, ...result.warnings] };
}
