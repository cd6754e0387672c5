// Canary objects shaped like the examples and the Bookinfo samples.
import type { DestinationRule } from '../../src/rules/types.js';

export function canaryDeployment(name: string, version: string | undefined, extra: { app?: string; image?: string } = {}): Record<string, unknown> {
  const app = extra.app ?? 'demo4';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app, 'canary-webhook/enabled': 'true' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: version === undefined ? { app } : { app, version } },
        spec: { containers: [{ name: app, image: extra.image ?? 'ghcr.io/stefanprodan/podinfo:6.7.1' }] },
      },
    },
  };
}

export function virtualService(name: string, host: string, route: Array<{ subset?: string; weight?: unknown; host?: string }>): Record<string, unknown> {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name },
    spec: {
      hosts: [host],
      http: [{ route: route.map((r) => ({ destination: { host: r.host ?? host, ...(r.subset ? { subset: r.subset } : {}) }, ...(r.weight === undefined ? {} : { weight: r.weight }) })) }],
    },
  };
}

export function destinationRule(namespace: string, name: string, host: string, subsets: string[], extraSpec: Record<string, unknown> = {}): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace },
    spec: { host, ...extraSpec, subsets: subsets.map((subset) => ({ name: subset, labels: { version: subset } })) },
  };
}
