// List sources for the kinds the guard reads besides DestinationRules:
// VirtualServices (networking.istio.io, the version discovery chose),
// Namespaces (core/v1, cluster-scoped) and Deployments (apps/v1, direct
// reads only). Each is paged, with the per-request timeout and pooled
// connections of client.ts, and converts what it reads to plain objects:
// the typed core clients turn timestamps into Date objects, watches do not.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { toDeployment, type DeploymentObject, type NamespaceObject, type VirtualServiceObject } from '../routing.js';
import { ISTIO_GROUP, requestOptions } from './client.js';
import { KeepAliveAgents } from './keep-alive.js';
import type { ListSource } from './list-watch-cache.js';

const PAGE_SIZE = 500;
const VIRTUAL_SERVICES = 'virtualservices';

type Page = { items?: unknown[]; metadata?: { resourceVersion?: string; _continue?: string; continue?: string } };

/** Read every page; `fetch` gets the continue token. */
async function paged<T>(fetch: (token: string | undefined) => Promise<unknown>, convert: (raw: unknown) => T | undefined): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let resourceVersion = '';
  let token: string | undefined;
  do {
    const page = ((await fetch(token)) ?? {}) as Page;
    for (const raw of page.items ?? []) {
      const item = convert(raw);
      if (item) items.push(item);
    }
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    token = page.metadata?._continue || page.metadata?.continue || undefined;
  } while (token !== undefined);
  return { items, resourceVersion };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const stamp = (value: unknown): string | undefined =>
  value instanceof Date ? value.toISOString() : typeof value === 'string' && value !== '' ? value : undefined;

const stringMap = (value: unknown): Record<string, string> | undefined => {
  if (!isRecord(value)) return undefined;
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
};

export function toVirtualService(raw: unknown, apiVersion: string): VirtualServiceObject | undefined {
  if (!isRecord(raw) || !isRecord(raw.metadata)) return undefined;
  const { name, namespace } = raw.metadata;
  if (typeof name !== 'string' || typeof namespace !== 'string') return undefined;
  return { ...raw, apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : apiVersion, kind: 'VirtualService', metadata: raw.metadata as VirtualServiceObject['metadata'] };
}

export function toNamespace(raw: unknown): NamespaceObject | undefined {
  if (!isRecord(raw) || !isRecord(raw.metadata) || typeof raw.metadata.name !== 'string') return undefined;
  const meta = raw.metadata;
  const phase = isRecord(raw.status) && typeof raw.status.phase === 'string' ? raw.status.phase : undefined;
  return {
    metadata: {
      name: meta.name as string,
      labels: stringMap(meta.labels),
      resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined,
      deletionTimestamp: stamp(meta.deletionTimestamp),
    },
    status: phase === undefined ? undefined : { phase },
  };
}

/** VirtualServices of all namespaces, in the networking.istio.io version in use. */
export function virtualServiceSource(kubeConfig: KubeConfig, version: string, agents: KeepAliveAgents): ListSource<VirtualServiceObject> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const apiVersion = `${ISTIO_GROUP}/${version}`;
  const convert = (raw: unknown): VirtualServiceObject | undefined => toVirtualService(raw, apiVersion);
  const base = { group: ISTIO_GROUP, version, plural: VIRTUAL_SERVICES, limit: PAGE_SIZE };
  return {
    kind: 'VirtualService',
    watchPath: `/apis/${ISTIO_GROUP}/${version}/${VIRTUAL_SERVICES}`,
    convert,
    list: (namespace, timeoutMs, signal) =>
      paged((token) => {
        const options = requestOptions(timeoutMs, undefined, signal, agents);
        return namespace === undefined
          ? api.listCustomObjectForAllNamespaces({ ...base, _continue: token }, options)
          : api.listNamespacedCustomObject({ ...base, namespace, _continue: token }, options);
      }, convert),
  };
}

/** Namespaces (cluster-scoped: the cache keeps them under namespace ''). */
export function namespaceSource(kubeConfig: KubeConfig, agents: KeepAliveAgents): ListSource<NamespaceObject> & { read(name: string, timeoutMs: number): Promise<NamespaceObject | undefined> } {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return {
    kind: 'Namespace',
    watchPath: '/api/v1/namespaces',
    convert: toNamespace,
    list: (_namespace, timeoutMs, signal) =>
      paged((token) => api.listNamespace({ limit: PAGE_SIZE, _continue: token }, requestOptions(timeoutMs, undefined, signal, agents)), toNamespace),
    read: async (name, timeoutMs) => toNamespace(await api.readNamespace({ name }, requestOptions(timeoutMs, undefined, undefined, agents))),
  };
}

/** Deployments of one namespace, read directly (the guard's Deployment-delete check; no cache, no watch). */
export function deploymentReader(kubeConfig: KubeConfig, agents: KeepAliveAgents): (namespace: string, timeoutMs: number) => Promise<DeploymentObject[]> {
  const api = kubeConfig.makeApiClient(AppsV1Api);
  return async (namespace, timeoutMs) =>
    (await paged((token) => api.listNamespacedDeployment({ namespace, limit: PAGE_SIZE, _continue: token }, requestOptions(timeoutMs, undefined, undefined, agents)), toDeployment)).items;
}
