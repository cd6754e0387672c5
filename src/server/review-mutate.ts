// POST /mutate: the imperative shell around mutateDeployment.
import { mutateDeployment } from '../rules/mutate.js';
import { diffPatch } from '../rules/patch.js';
import { isDns1123Label } from '../rules/names.js';
import { quote, warningLine } from '../rules/text.js';
import { requestNamespace, reviewSubject, type AdmissionRequest, type AdmissionVerdict } from './admission.js';
import type { AppDeps } from './deps.js';
import { recordAdmitted } from './record-admitted.js';

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
    // Standalone: a Deployment that is not opted in can still back a subset (readiness, the guard's "last one").
    recordAdmitted(deps, request, 'Deployment', namespace, object);
    return { allowed: true };
  }
  if (outcome.kind === 'deny') return { allowed: false, message: outcome.message };
  // The namespace becomes part of the read and write URLs: never send one that is not a namespace name.
  // (The service name is checked by the rule that discovers it.)
  if (!isDns1123Label(outcome.subset.namespace)) {
    return { allowed: false, message: `namespace ${quote(outcome.subset.namespace)} is not a valid namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)` };
  }

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
    // The patch rides along: in warn mode (SPEC §11) the Deployment is admitted as if the write had worked.
    if (deps.onSubsetError === 'deny') return { allowed: false, message: `${reason} (retry the apply; the webhook retries conflicts for ${deps.subsetWriteTimeoutMs} ms)`, patch };
    deps.logger.warn({ uid: request.uid, reason }, 'subset write failed; allowing as --on-subset-error=warn says');
    return { allowed: true, patch, warnings: [...warnings, warningLine(`subset not written: ${result.reason}`)] };
  }
  recordAdmitted(deps, request, 'Deployment', namespace, outcome.mutated);
  return { allowed: true, patch, warnings: [...warnings, ...result.warnings] };
}
