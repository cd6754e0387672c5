// What the guard (SPEC §9) and the duplicate-host warning (SPEC §3) read
// besides DestinationRules: VirtualServices indexed by the hosts they route
// to and the hosts they claim for the mesh, Namespaces, Deployments. Both
// stores (memory, Kubernetes) implement RoutingView.
import { matchingPatterns } from '../rules/hosts.js';
import { meshHosts } from '../rules/mesh-hosts.js';
import type { RuleSettings } from '../rules/types.js';
import { subsetReferences } from '../rules/validate.js';
import { ObjectIndex } from './object-index.js';

export interface VirtualServiceObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; [key: string]: unknown };
  spec?: unknown;
  [key: string]: unknown;
}

export interface NamespaceObject {
  metadata: { name: string; labels?: Record<string, string>; resourceVersion?: string; deletionTimestamp?: string };
  status?: { phase?: string };
}

export interface DeploymentObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    deletionTimestamp?: string;
  };
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } };
}

export interface RoutingView {
  /** True once VirtualServices (and Namespaces) are loaded. */
  isReady(): boolean;
  /**
   * VirtualServices with a subset reference to a host that `hostPattern`
   * (a resolved DestinationRule host: an FQDN or a wildcard) covers. One
   * index lookup, whatever the number of VirtualServices.
   */
  virtualServicesRouting(hostPattern: string): readonly VirtualServiceObject[];
  /** VirtualServices of `namespace` that claim `host` (resolved) for the mesh. */
  meshClaims(namespace: string, host: string): readonly VirtualServiceObject[];
  /** Re-read the VirtualServices of these namespaces from the source of truth (before a guard denial). */
  refreshVirtualServices(namespaces: readonly string[]): Promise<void>;
  /** The Deployments of a namespace, fresh (a direct read in a cluster). */
  deploymentsIn(namespace: string): Promise<readonly DeploymentObject[]>;
  /** Is the namespace being deleted? `fresh` asks the source of truth rather than the cache. */
  namespaceTerminating(namespace: string, fresh?: boolean): Promise<boolean>;
  /** Standalone: what an admission let through becomes the store's state (a cluster's store learns it from its watches). */
  recordAdmitted?(kind: 'VirtualService' | 'Deployment' | 'DestinationRule', operation: 'CREATE' | 'UPDATE' | 'DELETE', object: unknown): void;
}

/** A namespace is torn down once it carries a deletionTimestamp (phase Terminating follows). */
export function isTerminating(namespace: NamespaceObject | undefined): boolean {
  return namespace !== undefined && (namespace.metadata.deletionTimestamp !== undefined || namespace.status?.phase === 'Terminating');
}

export const SUBSET_HOST_INDEX = 'subset-host';
export const MESH_HOST_INDEX = 'mesh-host';

/**
 * VirtualServices indexed (1) under every pattern that can match a host they
 * send to a subset (`reviews.shop.svc.cluster.local`, `*.shop.svc.cluster.local`,
 * ..., `*`), so the VirtualServices a DestinationRule host affects are one
 * lookup of that host; (2) by `namespace/host` for each host they claim for
 * sidecars. The references come from the same walk that validates them.
 */
export function virtualServiceIndex(settings: RuleSettings): ObjectIndex<VirtualServiceObject> {
  return new ObjectIndex<VirtualServiceObject>({
    [SUBSET_HOST_INDEX]: (vs) => {
      const hosts = new Set(subsetReferences(vs, { namespace: vs.metadata.namespace, settings }).map((reference) => reference.host));
      return [...hosts].flatMap((host) => matchingPatterns(host));
    },
    [MESH_HOST_INDEX]: (vs) => meshHosts(vs, vs.metadata.namespace, settings.clusterDomain).map((host) => meshClaimKey(vs.metadata.namespace, host)),
  });
}

export const meshClaimKey = (namespace: string, host: string): string => `${namespace}/${host}`;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const stamp = (value: unknown): string | undefined =>
  value instanceof Date ? value.toISOString() : typeof value === 'string' && value !== '' ? value : undefined;

const stringMap = (value: unknown): Record<string, string> | undefined => {
  if (!isRecord(value)) return undefined;
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
};

/** The parts of a Deployment the guard reads, as plain data (typed client objects carry Dates). */
export function toDeployment(raw: unknown): DeploymentObject | undefined {
  if (!isRecord(raw) || !isRecord(raw.metadata)) return undefined;
  const meta = raw.metadata;
  if (typeof meta.name !== 'string' || typeof meta.namespace !== 'string') return undefined;
  const spec = isRecord(raw.spec) ? raw.spec : {};
  const template = isRecord(spec.template) ? spec.template : {};
  const templateMeta = isRecord(template.metadata) ? template.metadata : {};
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      labels: stringMap(meta.labels),
      annotations: stringMap(meta.annotations),
      resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined,
      deletionTimestamp: stamp(meta.deletionTimestamp),
    },
    spec: {
      replicas: typeof spec.replicas === 'number' ? spec.replicas : undefined,
      selector: { matchLabels: stringMap(isRecord(spec.selector) ? spec.selector.matchLabels : undefined) },
      template: { metadata: { labels: stringMap(templateMeta.labels), annotations: stringMap(templateMeta.annotations) } },
    },
  };
}
