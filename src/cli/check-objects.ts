// The heart of `check`: the webhook's own rules applied to manifest objects
// instead of AdmissionReviews.
import { positionOf, type ManifestObject } from '../manifests/objects.js';
import { mutateDeployment } from '../rules/mutate.js';
import type { DestinationRule, RuleSettings } from '../rules/types.js';
import { validateVirtualService } from '../rules/validate.js';
import { findingAbout, splitPath, type Finding, type Severity } from './findings.js';
import { isDeployment, isDestinationRule, isVirtualService, toDestinationRule } from '../manifests/kinds.js';
import { namespaceLabelsOf } from '../manifests/namespaces.js';
import type { DestinationRuleSet } from './rule-set.js';
import { breakageFindings, type ClusterState } from './check-guard.js';
import { InputWorkloads, isService } from './check-readiness.js';

export interface CheckOptions {
  /** Namespace of objects that name none. */
  namespace: string;
  settings: RuleSettings;
  /** With `--cluster`: input DestinationRules that would break the cluster's VirtualServices are errors. */
  cluster?: ClusterState;
}

export interface CheckCounts {
  virtualServices: number;
  canaryDeployments: number;
  destinationRules: number;
}

export function checkObjects(
  objects: readonly ManifestObject[],
  rules: DestinationRuleSet,
  options: CheckOptions,
): { findings: Finding[]; counts: CheckCounts } {
  const found: { seq: number; finding: Finding }[] = [];
  const report = (item: ManifestObject, severity: Severity, path: string, message: string): void => {
    found.push({ seq: item.seq, finding: findingAbout(item, item.namespace ?? options.namespace, severity, path, message) });
  };
  const counts: CheckCounts = { virtualServices: 0, canaryDeployments: 0, destinationRules: 0 };

  const inputRules = new Map<DestinationRule, ManifestObject>();
  for (const item of objects.filter(isDestinationRule)) {
    const rule = toDestinationRule(item, options.namespace);
    if (!rule) {
      report(item, 'warning', 'metadata', 'DestinationRule has no metadata.name; ignored');
      continue;
    }
    inputRules.set(rule, item);
    const replaced = rules.add(rule, 'input', item);
    if (replaced?.source) {
      const { line } = positionOf(replaced.source.document, replaced.source.at);
      const earlier = `${replaced.source.document.file}:${line}`;
      // Two definitions cannot both exist in a cluster: the later apply wins, and so does the later document here.
      report(item, 'warning', '', `also defined at ${earlier}; this later definition is the one checked against`);
    }
  }

  if (options.cluster) {
    const inputServices = new Set(objects.filter(isVirtualService).map((item) => `${item.namespace ?? options.namespace}/${item.name ?? ''}`));
    for (const [rule, messages] of breakageFindings([...inputRules.keys()], inputServices, options.cluster, options.settings)) {
      for (const message of messages) report(inputRules.get(rule)!, 'error', '', message);
    }
  }

  const workloads = new InputWorkloads(options.settings);
  for (const item of objects.filter(isService)) workloads.addService(item, item.namespace ?? options.namespace);
  // Canary Deployments first: in the cluster their subsets exist before any
  // VirtualService routes to them, because the webhook adds them on admission.
  // SPEC §2: offline mode reads Namespace objects from its input.
  const namespaces = namespaceLabelsOf(objects);
  for (const item of objects.filter(isDeployment)) {
    const namespace = item.namespace ?? options.namespace;
    const outcome = mutateDeployment(item.object, { operation: 'CREATE', namespace, settings: options.settings, namespaceLabels: namespaces.get(namespace) });
    if (outcome.kind !== 'deny') workloads.addDeployment(outcome.kind === 'mutate' ? outcome.mutated : item.object, namespace);
    if (outcome.kind === 'skip') continue;
    counts.canaryDeployments++;
    if (outcome.kind === 'deny') {
      report(item, 'error', '', outcome.message);
      continue;
    }
    const { plan } = rules.ensureSubset(outcome.subset, item);
    if (plan.action === 'refuse') report(item, 'error', '', plan.reason);
    for (const warning of [...outcome.warnings, ...plan.warnings]) {
      const { path, message } = splitPath(warning);
      report(item, 'warning', path, message);
    }
  }

  const all = rules.rules();
  for (const item of objects.filter(isVirtualService)) {
    counts.virtualServices++;
    const namespace = item.namespace ?? options.namespace;
    const result = validateVirtualService(item.object, all, { namespace, settings: options.settings });
    // SPEC §10 for an object that is otherwise admitted, as the webhook does.
    if (result.problemCount === 0) {
      const ready = workloads.findings(item.object, namespace, all);
      result.problems.push(...ready.problems);
      result.problemCount += ready.problemCount;
      result.warnings.push(...ready.warnings);
    }
    for (const problem of result.problems) report(item, 'error', problem.path, problem.message);
    // As a denial: the first MAX_PROBLEM_LINES in document order, then how many more.
    const rest = result.problemCount - result.problems.length;
    if (rest > 0) report(item, 'error', '', `... and ${rest} more problem${rest === 1 ? '' : 's'}`);
    for (const warning of result.warnings) {
      const { path, message } = splitPath(warning);
      report(item, 'warning', path, message);
    }
  }

  // Distinct rules, from the input and the cluster: what VirtualServices were checked against.
  counts.destinationRules = rules.all().filter((entry) => entry.origin !== 'created').length;
  // Input order, not rule order: a reader goes through the files top to bottom. (Array sort is stable.)
  const findings = found.sort((a, b) => a.seq - b.seq).map(({ finding }) => finding);
  return { findings, counts };
}
