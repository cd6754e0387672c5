// POST /guard (SPEC §9): gathers the inputs of the pure guard rules — the
// change, the VirtualServices routing to its host, the DestinationRules, the
// namespace's Deployments — and answers. Before a denial it re-reads what the
// denial rests on (VirtualServices and DestinationRules of the namespaces
// concerned, the Namespace itself), so a stale cache never denies.
import { deploymentRemovalFindings, destinationRuleChangeFindings, formatFindings, type GuardFinding } from '../rules/guard.js';
import { resolvedHostOf } from '../rules/hosts.js';
import { clip, singleLine } from '../rules/text.js';
import type { DestinationRule } from '../rules/types.js';
import type { RoutingView } from '../store/routing.js';
import { concerns, requestNamespace, type AdmissionRequest, type AdmissionVerdict } from './admission.js';
import type { AppDeps } from './deps.js';
import { recordAdmitted } from './record-admitted.js';
import { refreshNamespacesShared } from './review-refresh.js';

const destinationRuleTarget = { group: 'networking.istio.io', kind: 'DestinationRule', resource: 'destinationrules' };
const deploymentTarget = { group: 'apps', kind: 'Deployment', resource: 'deployments' };

/** Namespaces re-read before one denial; a change touching more is judged on the cache for the rest. */
const MAX_REREAD_NAMESPACES = 16;
/** A guard message in warn mode is the whole explanation: longer than a usual warning, still bounded. */
const MAX_GUARD_WARNING_CHARS = 400;

export async function reviewGuard(request: AdmissionRequest, deps: AppDeps): Promise<AdmissionVerdict> {
  const verdict = await judge(request, deps);
  if (verdict.allowed) recordChange(request, deps);
  return verdict;
}

/** Standalone: an admitted edit or delete is what the store now holds. */
function recordChange(request: AdmissionRequest, deps: AppDeps): void {
  const namespace = requestNamespace(request);
  const object = request.operation === 'DELETE' ? request.oldObject : request.object;
  if (concerns(request, destinationRuleTarget)) recordAdmitted(deps, request, 'DestinationRule', namespace, object);
  else if (concerns(request, deploymentTarget)) recordAdmitted(deps, request, 'Deployment', namespace, object);
}

async function judge(request: AdmissionRequest, deps: AppDeps): Promise<AdmissionVerdict> {
  const mode = deps.guardMode ?? 'deny';
  const routing = deps.store.routing;
  if (mode === 'off' || !routing) return { allowed: true };
  const operation = request.operation;
  if (operation !== 'UPDATE' && operation !== 'DELETE') return { allowed: true };
  const namespace = requestNamespace(request);
  let evaluate: (() => Promise<GuardFinding[]>) | undefined;
  if (concerns(request, destinationRuleTarget)) evaluate = destinationRuleEvaluation(request, namespace, deps, routing);
  else if (concerns(request, deploymentTarget)) evaluate = deploymentEvaluation(request, namespace, deps, routing);
  if (!evaluate) return { allowed: true };
  // Tear-down must work: nothing in a namespace being deleted is guarded.
  if (await routing.namespaceTerminating(namespace)) return { allowed: true };

  let findings = await evaluate();
  if (findings.some((finding) => finding.severity === 'deny')) {
    if (await terminatingNow(routing, namespace, deps)) return { allowed: true };
    const namespaces = [...new Set([namespace, deps.settings.rootNamespace, ...findings.map((finding) => finding.namespace)])].slice(0, MAX_REREAD_NAMESPACES);
    try {
      // The cache may not have seen the VirtualService change that already
      // shifted the traffic away (the right order of work): ask the source.
      await Promise.all([routing.refreshVirtualServices(namespaces), refreshNamespacesShared(deps.store, namespaces)]);
      findings = await evaluate();
    } catch (error) {
      deps.logger.warn({ uid: request.uid, err: (error as Error).message }, 'guard: direct re-read failed; answering from the cache');
    }
  }
  const denials = findings.filter((finding) => finding.severity === 'deny');
  const warnings = findings.filter((finding) => finding.severity === 'warn').map((finding) => guardWarning(finding.message));
  if (denials.length === 0) return { allowed: true, warnings };
  if (mode === 'warn') return { allowed: true, warnings: [...denials.map((finding) => guardWarning(finding.message)), ...warnings] };
  return { allowed: false, message: formatFindings(denials), warnings };
}

function destinationRuleEvaluation(request: AdmissionRequest, namespace: string, deps: AppDeps, routing: RoutingView): (() => Promise<GuardFinding[]>) | undefined {
  const before = asDestinationRule(request.oldObject, namespace);
  const after = request.operation === 'UPDATE' ? asDestinationRule(request.object, namespace) : undefined;
  // No stored object to compare with (an API server older than 1.15 sends none on DELETE): nothing to judge.
  if (!before || (request.operation === 'UPDATE' && !after)) return undefined;
  const { settings } = deps;
  return async () => {
    const hosts = [...new Set([before, after].flatMap((rule) => (rule ? [resolvedHostOf(rule, settings.clusterDomain)] : [])).filter((host) => host !== ''))];
    const virtualServices = unique(hosts.flatMap((host) => routing.virtualServicesRouting(host)));
    return destinationRuleChangeFindings({ before, after }, virtualServices, (host) => deps.store.candidatesForHost(host), settings);
  };
}

function deploymentEvaluation(request: AdmissionRequest, namespace: string, deps: AppDeps, routing: RoutingView): (() => Promise<GuardFinding[]>) | undefined {
  const { settings } = deps;
  const old = request.oldObject;
  if (labelOf(old, settings.optInLabel) !== 'true') return undefined;
  let scaleToZero = false;
  if (request.operation === 'UPDATE') {
    // Only the step to zero replicas is looked at; every other update passes.
    if (replicasOf(request.object) !== 0 || replicasOf(old) === 0) return undefined;
    scaleToZero = true;
  }
  return async () => {
    let others: readonly unknown[];
    try {
      others = await routing.deploymentsIn(namespace);
    } catch (error) {
      deps.logger.warn({ uid: request.uid, err: (error as Error).message }, 'guard: cannot list Deployments; not judging this change');
      return [];
    }
    return deploymentRemovalFindings({
      deployment: old,
      namespace,
      others,
      virtualServices: (host) => routing.virtualServicesRouting(host),
      lookup: (host) => deps.store.candidatesForHost(host),
      settings,
      scaleToZero,
    });
  };
}

async function terminatingNow(routing: RoutingView, namespace: string, deps: AppDeps): Promise<boolean> {
  try {
    return await routing.namespaceTerminating(namespace, true);
  } catch (error) {
    deps.logger.debug({ namespace, err: (error as Error).message }, 'guard: namespace read failed; using the cache');
    return false;
  }
}

/** The rule as the guard needs it: `request.namespace` wins, as for every object kubectl sends. */
function asDestinationRule(value: unknown, namespace: string): DestinationRule | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const object = value as { metadata?: unknown; spec?: unknown };
  if (typeof object.spec !== 'object' || object.spec === null || Array.isArray(object.spec)) return undefined;
  const metadata = typeof object.metadata === 'object' && object.metadata !== null ? (object.metadata as Record<string, unknown>) : {};
  if (typeof metadata.name !== 'string' || metadata.name === '') return undefined;
  return { ...(value as DestinationRule), metadata: { ...metadata, name: metadata.name, namespace } };
}

function labelOf(object: unknown, key: string): unknown {
  const labels = (object as { metadata?: { labels?: unknown } } | null | undefined)?.metadata?.labels;
  return typeof labels === 'object' && labels !== null && Object.hasOwn(labels, key) ? (labels as Record<string, unknown>)[key] : undefined;
}

/** `spec.replicas`, defaulting to 1 as the API server does. */
function replicasOf(object: unknown): number | undefined {
  const spec = (object as { spec?: { replicas?: unknown } } | null | undefined)?.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  return spec.replicas === undefined ? 1 : typeof spec.replicas === 'number' ? spec.replicas : undefined;
}

function unique<T extends { metadata: { namespace: string; name: string } }>(objects: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const object of objects) seen.set(`${object.metadata.namespace}/${object.metadata.name}`, object);
  return [...seen.values()];
}

function guardWarning(message: string): string {
  return clip(singleLine(message), MAX_GUARD_WARNING_CHARS);
}
