// The heart of `check`: the webhook's own rules applied to manifest objects
// instead of AdmissionReviews.
import type { ManifestObject } from '../manifests/objects.js';
import { mutateDeployment } from '../rules/mutate.js';
import type { RuleSettings } from '../rules/types.js';
import { validateVirtualService } from '../rules/validate.js';
import { findingAbout, splitPath, type Finding, type Severity } from './findings.js';
import { isDeployment, isDestinationRule, isVirtualService, toDestinationRule } from '../manifests/kinds.js';
import { namespaceLabelsOf } from '../manifests/namespaces.js';
import type { DestinationRuleSet } from './rule-set.js';

export interface CheckOptions {
  /** Namespace of objects that name none. */
  namespace: string;
  settings: RuleSettings;
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

  for (const item of objects.filter(isDestinationRule)) {
    const rule = toDestinationRule(item, options.namespace);
    if (!rule) {
      report(item, 'warning', 'metadata', 'DestinationRule has no metadata.name; ignored');
      continue;
    }
    const replaced = rules.add(rule, 'input', item);
    if (replaced?.source) {
      const earlier = `${replaced.source.document.file}:${replaced.source.document.index}`;
      // Two definitions cannot both exist in a cluster: the later apply wins, and so does the later document here.
      report(item, 'warning', '', `also defined at ${earlier}; this later definition is the one checked against`);
    }
  }

  // Canary Deployments first: in the cluster their subsets exist before any
  // VirtualService routes to them, because the webhook adds them on admission.
  // SPEC §2: offline mode reads Namespace objects from its input.
  const namespaces = namespaceLabelsOf(objects);
  for (const item of objects.filter(isDeployment)) {
    const namespace = item.namespace ?? options.namespace;
    const outcome = mutateDeployment(item.object, { operation: 'CREATE', namespace, settings: options.settings, namespaceLabels: namespaces.get(namespace) });
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
    for (const problem of result.problems) report(item, 'error', problem.path, problem.message);
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
