// The worst objects a namespace user can send (issue 10), generated rather
// than stored: the regression tests and bench/adversarial.ts share them so
// the benchmark measures exactly what the tests prove correct.
import type { DestinationRule } from '../../src/rules/types.js';

type Json = Record<string, unknown>;

export interface AdversarialInput {
  /** The VirtualService, as a client would send it. */
  virtualService: Json;
  /** Its namespace (`request.namespace`). */
  namespace: string;
  /** What the cluster holds. */
  destinationRules: DestinationRule[];
}

/** `a.a.a…a`: `labels` labels, 2 × labels − 1 characters (16,000 labels ≈ 32 KB). */
export function longHost(labels: number): string {
  return `${'a.'.repeat(labels - 1)}a`;
}

export function rule(namespace: string, name: string, host: string, subsets: string[], extra: Json = {}): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace },
    spec: { host, subsets: subsets.map((subset) => ({ name: subset, labels: { version: subset } })), ...extra },
  };
}

export function virtualService(namespace: string, http: unknown[]): Json {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'adversarial', namespace },
    spec: { hosts: ['adversarial'], http },
  };
}

/** One http entry routing all traffic to `host`, subset `subset` when given. */
export function routeTo(host: string, subset?: string): Json {
  return { route: [{ destination: subset === undefined ? { host } : { host, subset } }] };
}

/** A destination host of `labels` dotted labels, with a subset (the 16,000-label body ran a 192 MB heap out of memory). */
export function longHostInput(labels = 16_000): AdversarialInput {
  const namespace = 'attack';
  return {
    namespace,
    virtualService: virtualService(namespace, [routeTo(longHost(labels), 'v1')]),
    destinationRules: [rule(namespace, 'reviews', 'reviews', ['v1']), rule('istio-system', 'mesh', '*', ['v0'])],
  };
}

/**
 * One VirtualService naming `count` distinct hosts, against `count` rules (one
 * per host, in the VirtualService's namespace). `subset` v1 is defined
 * everywhere; any other name is missing everywhere.
 */
export function manyHostsInput(count: number, subset = 'v1'): AdversarialInput {
  const namespace = 'wide';
  const destinationRules: DestinationRule[] = [];
  const http: Json[] = [];
  for (let i = 0; i < count; i++) {
    destinationRules.push(rule(namespace, `svc-${i}`, `svc-${i}`, ['v1', 'v2']));
    http.push(routeTo(`svc-${i}`, subset));
  }
  return { namespace, virtualService: virtualService(namespace, http), destinationRules };
}

/**
 * `namespaces` namespaces each holding a `host: "*"` rule (exported
 * everywhere, the default), and a VirtualService in another namespace naming
 * `hosts` external hosts. External hosts may be held by any namespace, so
 * each host used to be matched against every namespace.
 */
export function wildcardNamespacesInput(namespaces: number, hosts: number, subset = 'v1'): AdversarialInput {
  const namespace = 'client';
  const destinationRules: DestinationRule[] = [];
  for (let i = 0; i < namespaces; i++) destinationRules.push(rule(`tenant-${i}`, 'everything', '*', ['v1']));
  const http: Json[] = [];
  for (let j = 0; j < hosts; j++) http.push(routeTo(`ext-${j}.example.com`, subset));
  return { namespace, virtualService: virtualService(namespace, http), destinationRules };
}

/** One http entry with `routes` destinations and no weights (≈ 29 bytes each: 100,000 ≈ 2.8 MiB). Denied: all weights missing. */
export function manyRoutesInput(routes: number): AdversarialInput {
  const namespace = 'routes';
  const route: Json[] = [];
  for (let i = 0; i < routes; i++) route.push({ destination: { host: 'r' } });
  return { namespace, virtualService: virtualService(namespace, [{ route }]), destinationRules: [rule(namespace, 'r', 'r', ['v1'])] };
}

/** `entries` http entries each routing to a subset nobody defines (42,000 ≈ 2.6 MiB). */
export function missingSubsetInput(entries: number): AdversarialInput {
  const namespace = 'missing';
  const http: Json[] = [];
  for (let i = 0; i < entries; i++) http.push(routeTo('reviews', 'v9'));
  return { namespace, virtualService: virtualService(namespace, http), destinationRules: [rule(namespace, 'reviews', 'reviews', ['v1', 'v2'])] };
}

/** A VirtualService routing to `svc-<i>.tenant-<i>` for `count` namespaces, every subset missing: one review names `count` namespaces. */
export function manyNamespacesInput(count: number): AdversarialInput {
  const namespace = 'client';
  const http: Json[] = [];
  for (let i = 0; i < count; i++) http.push(routeTo(`svc.tenant-${i}.svc.cluster.local`, 'v1'));
  return { namespace, virtualService: virtualService(namespace, http), destinationRules: [] };
}

/** The AdmissionReview the API server would send for `input`. */
export function admissionReview(input: AdversarialInput, uid = 'adversarial'): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' },
      resource: { group: 'networking.istio.io', version: 'v1', resource: 'virtualservices' },
      namespace: input.namespace,
      name: 'adversarial',
      operation: 'CREATE',
      object: input.virtualService,
    },
  };
}
