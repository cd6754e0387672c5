// Which Kubernetes objects a manifest holds, as the webhook and the offline
// commands both need to tell them apart.
import type { DestinationRule } from '../rules/types.js';
import type { ManifestObject } from './objects.js';

/**
 * A DestinationRule read from a manifest, with the namespace filled in the
 * way `kubectl apply -n` would; undefined when it has no name to key it by.
 */
export function toDestinationRule(item: ManifestObject, defaultNamespace: string): DestinationRule | undefined {
  if (item.name === undefined) return undefined;
  const rule = structuredClone(item.object) as DestinationRule;
  rule.metadata = { ...rule.metadata, name: item.name, namespace: item.namespace ?? defaultNamespace };
  return rule;
}

export function isDestinationRule(item: ManifestObject): boolean {
  return item.kind === 'DestinationRule' && item.apiVersion.startsWith('networking.istio.io/');
}

export function isVirtualService(item: ManifestObject): boolean {
  return item.kind === 'VirtualService' && item.apiVersion.startsWith('networking.istio.io/');
}

/** The webhook is registered for apps/v1 only; other API versions of Deployment no longer exist. */
export function isDeployment(item: ManifestObject): boolean {
  return item.kind === 'Deployment' && item.apiVersion === 'apps/v1';
}
