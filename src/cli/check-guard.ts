// `check --cluster` and the guard (SPEC §7, §9): a DestinationRule in the
// input whose apply would newly break a VirtualService in the cluster is an
// error, found by the same rule the guard denies with.
import { destinationRuleChangeFindings } from '../rules/guard.js';
import { resolvedHostOf } from '../rules/hosts.js';
import type { DestinationRule, RuleSettings } from '../rules/types.js';
import { HostIndex } from '../store/host-index.js';
import { SUBSET_HOST_INDEX, virtualServiceIndex, type VirtualServiceObject } from '../store/routing.js';

export interface ClusterState {
  destinationRules: readonly DestinationRule[];
  virtualServices: readonly VirtualServiceObject[];
}

/**
 * For each input rule, the guard's denials as if it were applied to the
 * cluster as it is (each rule on its own, as each apply is reviewed on its
 * own). VirtualServices the input also holds are left out: the input's
 * version is what will be applied, and it is validated on its own.
 */
export function breakageFindings(
  inputRules: readonly DestinationRule[],
  inputVirtualServices: ReadonlySet<string>,
  cluster: ClusterState,
  settings: RuleSettings,
): Map<DestinationRule, string[]> {
  const rules = new HostIndex(settings.clusterDomain);
  for (const rule of cluster.destinationRules) rules.upsert(rule);
  const services = virtualServiceIndex(settings);
  for (const service of cluster.virtualServices) {
    if (!inputVirtualServices.has(`${service.metadata.namespace}/${service.metadata.name}`)) services.upsert(service);
  }
  const result = new Map<DestinationRule, string[]>();
  for (const after of inputRules) {
    const before = rules.get(after.metadata.namespace, after.metadata.name);
    const hosts = new Set([before, after].flatMap((rule) => (rule ? [resolvedHostOf(rule, settings.clusterDomain)] : [])));
    const affected = new Map<string, VirtualServiceObject>();
    for (const host of hosts) for (const service of services.byIndex(SUBSET_HOST_INDEX, host)) affected.set(`${service.metadata.namespace}/${service.metadata.name}`, service);
    const findings = destinationRuleChangeFindings({ before, after }, [...affected.values()], (host) => rules.candidatesForHost(host), settings);
    const denials = findings.filter((finding) => finding.severity === 'deny').map((finding) => finding.message);
    if (denials.length > 0) result.set(after, denials);
  }
  return result;
}
