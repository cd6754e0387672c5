// Objects for the guard and cache tests: VirtualServices with weighted
// subset routes, Namespaces, canary Deployments.
import type { Obj } from './fake-objects.js';

export interface Split {
  subset: string;
  weight?: number;
}

/** A VirtualService of `namespace` sending `host` traffic split over subsets (one http route). */
export function virtualService(namespace: string, name: string, host: string, splits: Split[], extra: Record<string, unknown> = {}): Obj & { metadata: { name: string; namespace: string } } {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace },
    spec: {
      hosts: [host],
      http: [{ route: splits.map(({ subset, weight }) => ({ destination: { host, subset }, ...(weight === undefined ? {} : { weight }) })) }],
      ...extra,
    },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}, terminating = false): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels, ...(terminating ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    ...(terminating ? { status: { phase: 'Terminating' } } : {}),
  };
}

/** An opted-in canary Deployment of `app` at `version`, as the mutating webhook leaves it. */
export function deployment(namespace: string, app: string, version: string, replicas = 1): Obj & { metadata: { name: string; namespace: string } } {
  const labels = { app, version };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${app}-${version}`, namespace, labels: { ...labels, 'canary-webhook/enabled': 'true' } },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels: { ...labels, 'sidecar.istio.io/inject': 'true' } }, spec: { containers: [{ name: app, image: `example/${app}:${version}` }] } },
    },
  };
}
