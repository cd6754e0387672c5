// Which hosts a VirtualService claims for sidecars, and the SPEC §3 warning
// when another VirtualService of the same namespace already claims one.
// Istio's sidecars use one VirtualService per host (only gateways merge
// them); istioctl reports the clash as IST0109
// ConflictingMeshGatewayVirtualServiceHosts (istio/istio
// pkg/config/analysis/analyzers/virtualservice/conflictingmeshgatewayhosts.go).
import { resolveHost } from './hosts.js';
import { warningLine } from './text.js';

/** Hosts read from one object at most; the API server's size limit bounds the rest. */
const MAX_HOSTS = 1_000;
/** Warnings about other VirtualServices in one answer. */
const MAX_CLAIM_WARNINGS = 5;

export interface NamedObject {
  metadata: { name: string; namespace?: string };
}

/**
 * Hosts a VirtualService applies to for sidecars: all of them when its
 * `gateways` is empty or names `mesh` (the implicit gateway), none otherwise;
 * resolved like any host of its namespace.
 */
export function meshHosts(virtualService: unknown, namespace: string, clusterDomain: string): string[] {
  if (typeof virtualService !== 'object' || virtualService === null) return [];
  const spec = (virtualService as { spec?: unknown }).spec;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return [];
  const { hosts, gateways } = spec as { hosts?: unknown; gateways?: unknown };
  const gatewayList = Array.isArray(gateways) ? gateways : [];
  if (gatewayList.length > 0 && !gatewayList.includes('mesh')) return [];
  if (!Array.isArray(hosts)) return [];
  const resolved = hosts
    .slice(0, MAX_HOSTS)
    .filter((host): host is string => typeof host === 'string' && host.trim() !== '')
    .map((host) => resolveHost(host, namespace, clusterDomain));
  return [...new Set(resolved)];
}

/**
 * Warnings for hosts of `virtualService` (named `name` in `namespace`) that
 * another VirtualService of the namespace already claims for the mesh.
 * `claims(host)` returns the VirtualServices claiming it (a store index).
 */
export function meshClaimWarnings(
  virtualService: unknown,
  name: string,
  namespace: string,
  claims: (host: string) => readonly NamedObject[],
  clusterDomain: string,
): string[] {
  const warnings: string[] = [];
  for (const host of meshHosts(virtualService, namespace, clusterDomain)) {
    const other = claims(host).find((claimant) => claimant.metadata.name !== name);
    if (!other) continue;
    warnings.push(warningLine(`spec.hosts: ${host} is also a mesh host of VirtualService ${namespace}/${other.metadata.name}; sidecars use one`));
    if (warnings.length === MAX_CLAIM_WARNINGS) break;
  }
  return warnings;
}
