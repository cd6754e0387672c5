// SPEC §10 against the fake API server: the real app, the real Kubernetes
// store and the real @kubernetes/client-node reading Pods and Services.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import request from 'supertest';
import type { RuleSettings } from '../src/rules/types.js';
import type { ReadinessDeps } from '../src/server/deps.js';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { KubeWorkloadReader } from '../src/store/kube/workloads.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger, rule, settings, waitFor } from './support/kube-fixtures.js';

const route = (entries: Array<[string, number | undefined, string?]>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'shop' },
  spec: {
    hosts: ['reviews'],
    http: [{ route: entries.map(([subset, weight, host]) => ({ destination: { host: host ?? 'reviews', subset }, ...(weight === undefined ? {} : { weight }) })), ...extra }],
  },
});

function pod(name: string, labels: Record<string, string>, ready: boolean, namespace = 'shop'): Record<string, unknown> {
  return {
    metadata: { name, namespace, labels },
    status: { phase: 'Running', conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function service(name: string, selector: Record<string, string>, namespace = 'shop'): Record<string, unknown> {
  return { metadata: { name, namespace }, spec: { selector, ports: [{ port: 9080 }] } };
}

describe('readiness against the Kubernetes API', () => {
  let api: FakeApiServer;
  let store: KubeStore;
  let reader: KubeWorkloadReader;
  let log: ReturnType<typeof memoryLogger>;

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    for (const name of ['reviews', 'ratings', 'details', 'productpage']) api.put('destinationrules', rule('shop', name, name, ['v1', 'v2']) as never);
    log = memoryLogger('info');
    store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings, logger: log.logger });
    assert.equal(await store.waitForSync(5_000), true);
  });
  afterEach(async () => {
    reader?.close();
    await store.close();
    await api.stop();
  });

  const appWith = (options: { readiness?: Partial<ReadinessDeps>; settings?: Partial<RuleSettings>; cacheTtlMs?: number; now?: () => number } = {}) => {
    reader = new KubeWorkloadReader({ kubeConfig: api.kubeConfig(), cacheTtlMs: options.cacheTtlMs ?? 2_000, now: options.now });
    return buildApp({ store, settings: options.settings, overrides: { logger: log.logger, readiness: { reader, maxReads: 10, timeoutMs: 2_000, ...options.readiness } } }).app;
  };
  const validate = async (app: ReturnType<typeof appWith>, object: unknown): Promise<ReviewAnswer['response']> =>
    ((await request(app).post('/validate').send(review(object, { namespace: 'shop' })).expect(200)).body as ReviewAnswer).response;
  const readyWarnings = (response: ReviewAnswer['response']): string[] => (response.warnings ?? []).filter((w) => w.includes('selects no ready pod'));
  const podLists = (): number => api.count({ method: 'GET', path: /\/api\/v1\/namespaces\/[^/]+\/pods$/ });

  it('warns exactly when no pod matching the subset is Ready, with a label-selected list in the service\'s namespace', async () => {
    api.put('services', service('reviews', { app: 'reviews' }) as never);
    api.put('pods', pod('reviews-v1-a', { app: 'reviews', version: 'v1' }, true) as never);
    api.put('pods', pod('reviews-v2-a', { app: 'reviews', version: 'v2' }, false) as never);
    api.put('pods', pod('reviews-v2-b', { app: 'reviews', version: 'v2' }, false) as never);
    const app = appWith({ cacheTtlMs: 0 });
    const response = await validate(app, route([['v1', 90], ['v2', 10]]));
    assert.equal(response.allowed, true);
    assert.deepEqual(readyWarnings(response), [
      'spec.http[0].route[1]: subset "v2" of reviews.shop.svc.cluster.local selects no ready pod (0 of 2 Running pods Ready); traffic sent there gets 503',
    ]);
    const selectors = api.requests.filter((r) => r.path === '/api/v1/namespaces/shop/pods').map((r) => new URLSearchParams(r.query).get('labelSelector')).sort();
    assert.deepEqual(selectors, ['app=reviews,version=v1', 'app=reviews,version=v2']);
    assert.equal(api.count({ method: 'GET', path: '/api/v1/namespaces/shop/services/reviews' }), 1);

    // One pod turns Ready: the warning goes.
    api.put('pods', pod('reviews-v2-b', { app: 'reviews', version: 'v2' }, true) as never);
    assert.deepEqual(readyWarnings(await validate(app, route([['v1', 90], ['v2', 10]]))), []);
  });

  it('a VirtualService admitted only after the direct DestinationRule read is checked too, from what it kept (its object is gone by then)', async () => {
    api.put('services', service('reviews', { app: 'reviews' }) as never);
    api.put('pods', pod('reviews-v1-a', { app: 'reviews', version: 'v1' }, true) as never);
    api.put('pods', pod('reviews-v3-a', { app: 'reviews', version: 'v3' }, false) as never);
    const app = appWith({ cacheTtlMs: 0 });
    // The cache stops seeing changes; a rule defining v3 is applied (same `kubectl apply -f` as the VirtualService).
    api.watches.silence(true);
    api.put('destinationrules', rule('shop', 'reviews', 'reviews', ['v1', 'v2', 'v3']) as never);
    const response = await validate(app, route([['v1', 90], ['v3', 10]]));
    assert.equal(response.allowed, true, JSON.stringify(response));
    assert.ok(api.count({ method: 'GET', path: '/apis/networking.istio.io/v1/namespaces/shop/destinationrules' }) >= 1, 'the direct read happened');
    assert.deepEqual(readyWarnings(response), [
      'spec.http[0].route[1]: subset "v3" of reviews.shop.svc.cluster.local selects no ready pod (0 of 1 Running pods Ready); traffic sent there gets 503',
    ]);
    api.watches.resume();
  });

  it('the Service selector narrows the match: another app\'s ready v2 pods do not count', async () => {
    api.put('pods', pod('ratings-v2', { app: 'ratings', version: 'v2' }, true) as never);
    // No Service: the subset labels alone select, and the ratings pod is Ready.
    assert.deepEqual(readyWarnings(await validate(appWith({ cacheTtlMs: 0 }), route([['v2', 100]]))), []);
    reader.close();
    api.put('services', service('reviews', { app: 'reviews' }) as never);
    const response = await validate(appWith({ cacheTtlMs: 0 }), route([['v2', 100]]));
    assert.deepEqual(readyWarnings(response), ['spec.http[0].route[0]: subset "v2" of reviews.shop.svc.cluster.local selects no ready pod (0 of 0 Running pods Ready); traffic sent there gets 503']);
  });

  it('weight 0 destinations and mirrors are not checked: no pod read at all', async () => {
    const app = appWith();
    const object = route([['v1', 100], ['v2', 0]], { mirror: { host: 'ratings', subset: 'v2' }, mirrors: [{ destination: { host: 'details', subset: 'v2' } }] });
    api.put('pods', pod('reviews-v1', { version: 'v1' }, true) as never);
    const response = await validate(app, object);
    assert.equal(response.allowed, true);
    assert.deepEqual(readyWarnings(response), []);
    assert.deepEqual(api.requests.filter((r) => r.path.endsWith('/pods')).map((r) => new URLSearchParams(r.query).get('labelSelector')), ['version=v1']);
  });

  it('--ready-policy=deny denies, after confirming with a read sent during the review; off reads nothing', async () => {
    api.put('services', service('reviews', { app: 'reviews' }) as never);
    api.put('pods', pod('reviews-v1', { app: 'reviews', version: 'v1' }, true) as never);
    const app = appWith({ settings: { readyPolicy: 'deny' } });
    // A first review fills the cache with "v2: none ready".
    await validate(app, route([['v1', 100]]));
    await validate(appWith({ settings: { readyPolicy: 'warn' } }), route([['v2', 100]]));
    const before = podLists();
    const denied = await validate(app, route([['v1', 50], ['v2', 50]]));
    assert.equal(denied.allowed, false);
    assert.equal(denied.status?.code, 403);
    assert.equal(denied.status?.message, 'spec.http[0].route[1]: subset "v2" of reviews.shop.svc.cluster.local selects no ready pod (0 of 0 Running pods Ready); traffic sent there gets 503; shift traffic once it has Ready pods');
    assert.ok(podLists() > before);

    const offBefore = api.requests.length;
    const off = await validate(appWith({ settings: { readyPolicy: 'off' } }), route([['v1', 50], ['v2', 50]]));
    assert.deepEqual([off.allowed, readyWarnings(off)], [true, []]);
    assert.equal(api.requests.length, offBefore);
  });

  it('a slow API server (latency past the deadline) gives a timely answer and no false warning; the log says the check was skipped', async () => {
    api.put('pods', pod('reviews-v2', { version: 'v2' }, true) as never);
    const app = appWith({ readiness: { timeoutMs: 150 } });
    api.latencyMs = 3_000;
    const response = await validate(app, route([['v1', 50], ['v2', 50]]));
    assert.equal(response.allowed, true);
    assert.deepEqual(readyWarnings(response), []);
    assert.ok(log.lines.some((line) => String(line.msg).startsWith('readiness check skipped')), JSON.stringify(log.lines.map((line) => line.msg)));
    api.latencyMs = 0;
  });

  it('concurrent reviews of one subset cause one Service read and one pod list', async () => {
    api.put('services', service('reviews', { app: 'reviews' }) as never);
    const app = appWith();
    api.latencyMs = 50;
    const answers = await Promise.all(Array.from({ length: 20 }, () => validate(app, route([['v2', 100]]))));
    api.latencyMs = 0;
    for (const answer of answers) assert.equal(readyWarnings(answer).length, 1);
    assert.equal(podLists(), 1);
    assert.equal(api.count({ method: 'GET', path: '/services/reviews' }), 1);
    // Cached: another review reads nothing.
    await validate(app, route([['v2', 100]]));
    assert.equal(podLists(), 1);
  });

  it('answers are reused for the cache TTL, refreshed in the background after it, and read again once long stale', async () => {
    let nowMs = 1_000_000;
    const app = appWith({ cacheTtlMs: 2_000, now: () => nowMs });
    api.put('pods', pod('reviews-v2', { version: 'v2' }, false) as never);
    assert.equal(readyWarnings(await validate(app, route([['v2', 100]]))).length, 1);
    api.put('pods', pod('reviews-v2', { version: 'v2' }, true) as never);
    nowMs += 1_999;
    assert.equal(readyWarnings(await validate(app, route([['v2', 100]]))).length, 1, 'within the TTL: the cached count');
    assert.equal(podLists(), 1);
    nowMs += 1;
    // Past the TTL: this review still answers from the cache, and one refresh goes out.
    assert.equal(readyWarnings(await validate(app, route([['v2', 100]]))).length, 1);
    await waitFor('the background refresh', () => api.requests.filter((r) => r.path.endsWith('/pods') && r.status === 200).length === 2);
    // The answer is stored once the client has parsed the response: a few reviews may still see the old one.
    let warnings = 1;
    for (let attempt = 0; attempt < 100 && warnings > 0; attempt++) {
      warnings = readyWarnings(await validate(app, route([['v2', 100]]))).length;
      if (warnings > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(warnings, 0, 'the refreshed count');
    assert.equal(podLists(), 2);

    // Long stale (sparse traffic): the review reads and waits.
    api.put('pods', pod('reviews-v2', { version: 'v2' }, false) as never);
    nowMs += 10_000;
    assert.equal(readyWarnings(await validate(app, route([['v2', 100]]))).length, 1);
    assert.equal(podLists(), 3);
  });

  it('--max-ready-reads caps the subsets looked up per review', async () => {
    const object = {
      ...route([]),
      spec: { hosts: ['reviews'], http: ['reviews', 'ratings', 'details', 'productpage'].map((host) => ({ route: [{ destination: { host, subset: 'v1' }, weight: 50 }, { destination: { host, subset: 'v2' }, weight: 50 }] })) },
    };
    for (const name of ['reviews', 'ratings', 'details', 'productpage']) api.put('services', service(name, { app: name }) as never);
    const response = await validate(appWith({ readiness: { maxReads: 3 } }), object);
    assert.equal(response.allowed, true);
    assert.equal(podLists(), 3);
    assert.equal(readyWarnings(response).length, 3);
    assert.ok(log.lines.some((line) => String(line.msg).includes('--max-ready-reads')));
  });

  it('worst input: thousands of routed subsets cost at most --max-ready-reads pod lists and one Service read', async () => {
    const names = Array.from({ length: 3_000 }, (_, i) => `s${i}`);
    api.put('destinationrules', rule('shop', 'wide', 'wide', names) as never);
    await store.refreshNamespaces(['shop']);
    api.put('services', service('wide', { app: 'wide' }) as never);
    const object = { ...route([]), spec: { hosts: ['wide'], http: names.map((subset) => ({ route: [{ destination: { host: 'wide', subset } }] })) } };
    const response = await validate(appWith(), object);
    assert.equal(response.allowed, true);
    assert.equal(podLists(), 10);
    assert.equal(api.count({ method: 'GET', path: '/services/' }), 1);
    assert.equal(readyWarnings(response).length, 10);
  });

  it('an API error leaves the subset unchecked, never a denial', async () => {
    api.failNext({ method: 'GET', path: '/pods', status: 500, count: 5 });
    const response = await validate(appWith({ settings: { readyPolicy: 'deny' } }), route([['v2', 100]]));
    assert.deepEqual([response.allowed, readyWarnings(response)], [true, []]);
  });
});
