// The Kubernetes store against the fake API server, through the real client:
// discovery, the cache, direct reads before denial, subset writes, failures.
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { connectKubeStore, IstioNotInstalledError, type KubeStore, type KubeStoreOptions } from '../src/store/kube/kube-store.js';
import { listAllDestinationRules } from '../src/store/kube/list.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger, names, rule, settings, subsetRequest, waitFor } from './support/kube-fixtures.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

const fqdn = (service: string, namespace: string): string => `${service}.${namespace}.svc.cluster.local`;

describe('KubeStore', () => {
  let fake: FakeApiServer;
  const stores: KubeStore[] = [];
  const connect = async (extra: Partial<KubeStoreOptions> = {}): Promise<KubeStore> => {
    const store = await connectKubeStore({ kubeConfig: fake.kubeConfig(), settings, logger: memoryLogger().logger, watchBackoff: { baseMs: 20, maxMs: 200 }, ...extra });
    stores.push(store);
    return store;
  };
  beforeEach(async () => {
    fake = new FakeApiServer();
    await fake.start();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await fake.stop();
  });

  describe('discovery', () => {
    for (const [served, expected] of [
      [['v1', 'v1beta1', 'v1alpha3'], 'v1'],
      [['v1beta1', 'v1alpha3'], 'v1beta1'],
      [['v1alpha3'], 'v1alpha3'],
    ] as const) {
      it(`uses ${expected} when the server serves ${served.join(', ')}`, async () => {
        fake.servedVersions = [...served];
        fake.put('destinationrules', rule('default', 'reviews', 'reviews', ['v1']));
        const store = await connect();
        assert.equal(store.apiVersion, `networking.istio.io/${expected}`);
        assert.equal(await store.waitForSync(2_000), true);
        const result = await store.ensureSubset(subsetRequest('default', 'reviews', 'v2'), Date.now() + 2_000);
        assert.equal(result.outcome, 'appended');
        assert.ok(fake.requests.some((r) => r.method === 'PATCH' && r.path.startsWith(`/apis/networking.istio.io/${expected}/`)));
      });
    }

    it('rejects with a clear error when no Istio CRDs are installed', async () => {
      fake.servedVersions = [];
      await assert.rejects(connect(), (err: unknown) => {
        assert.ok(err instanceof IstioNotInstalledError);
        assert.equal(err.message, 'Istio CRDs not installed: the API server serves no networking.istio.io/v1, v1beta1 or v1alpha3');
        return true;
      });
      await assert.rejects(listAllDestinationRules(fake.kubeConfig()), IstioNotInstalledError);
    });
  });

  describe('cache', () => {
    it('is ready only after the first list, then answers exact and wildcard hosts from all namespaces', async () => {
      fake.put('destinationrules', rule('default', 'reviews', 'reviews', ['v1']));
      fake.put('destinationrules', rule('prod', 'wild', '*.prod.svc.cluster.local'));
      fake.put('destinationrules', rule('istio-system', 'mesh', '*'));
      fake.latencyMs = 100;
      const store = await connect();
      assert.equal(store.isReady(), false);
      assert.equal(await store.waitForSync(3_000), true);
      assert.equal(store.isReady(), true);
      assert.equal(store.size(), 3);
      assert.deepEqual(names(store.candidatesForHost(fqdn('reviews', 'default'))), ['default/reviews', 'istio-system/mesh']);
      assert.deepEqual(names(store.candidatesForHost(fqdn('orders', 'prod'))), ['prod/wild', 'istio-system/mesh']);
      fake.latencyMs = 0;
      fake.put('destinationrules', rule('prod', 'orders', 'orders'));
      fake.objects.remove('destinationrules', 'prod', 'wild');
      await waitFor('the watch to deliver the changes', () => names(store.candidatesForHost(fqdn('orders', 'prod'))).join() === 'prod/orders,istio-system/mesh');
    });

    it('apply-in-one-file: refreshNamespaces finds a rule the watch has not delivered yet', async () => {
      const store = await connect();
      assert.equal(await store.waitForSync(2_000), true);
      fake.watches.silence(true);
      fake.put('destinationrules', rule('bookinfo', 'ratings', 'ratings', ['v1']));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(names(store.candidatesForHost(fqdn('ratings', 'bookinfo'))), [], 'the cache has not seen it');
      await store.refreshNamespaces(['bookinfo']);
      assert.deepEqual(names(store.candidatesForHost(fqdn('ratings', 'bookinfo'))), ['bookinfo/ratings']);
      assert.ok(fake.requests.some((r) => r.method === 'GET' && r.path === '/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules'));
      fake.objects.remove('destinationrules', 'bookinfo', 'ratings');
      await store.refreshNamespaces(['bookinfo']);
      assert.deepEqual(names(store.candidatesForHost(fqdn('ratings', 'bookinfo'))), [], 'a refresh also drops deleted rules');
    });
  });

  describe('ensureSubset', () => {
    it('creates, appends, and answers present from the cache without any API call', async () => {
      const store = await connect();
      assert.equal(await store.waitForSync(2_000), true);
      fake.watches.silence(true); // what the store knows next comes from its own writes (write-through)
      const created = await store.ensureSubset(subsetRequest('shop', 'cart', 'v1'), Date.now() + 2_000);
      assert.equal(created.outcome, 'created');
      assert.deepEqual(names(store.candidatesForHost(fqdn('cart', 'shop'))), ['shop/cart']);
      const post = fake.requests.find((r) => r.method === 'POST')!;
      assert.equal(post.contentType, 'application/json');

      const appended = await store.ensureSubset(subsetRequest('shop', 'cart', '2.0', '2-0'), Date.now() + 2_000);
      assert.equal(appended.outcome, 'appended');
      const patch = fake.requests.find((r) => r.method === 'PATCH')!;
      assert.equal(patch.contentType, 'application/json-patch+json');
      assert.deepEqual(store.candidatesForHost(fqdn('cart', 'shop'))[0]!.spec.subsets?.map((s) => s.name), ['v1', '2-0']);

      const before = fake.requests.length;
      const present = await store.ensureSubset(subsetRequest('shop', 'cart', '2.0', '2-0'), Date.now() + 2_000);
      assert.equal(present.outcome, 'present');
      assert.equal(present.attempts, 0);
      assert.equal(fake.requests.length, before, 'no request for a subset the cache already shows');
      const stored = fake.objects.get('destinationrules', 'shop', 'cart')!;
      assert.deepEqual((stored.spec as { subsets: Array<{ name: string }> }).subsets.map((s) => s.name), ['v1', '2-0']);
    });

    it('fails at once, with an RBAC hint, when the API server forbids the write', async () => {
      fake.put('destinationrules', rule('default', 'reviews', 'reviews', ['v1']));
      const store = await connect();
      fake.failNext({ method: 'PATCH', status: 403, count: 1 });
      const result = await store.ensureSubset(subsetRequest('default', 'reviews', 'v2'), Date.now() + 2_000);
      assert.equal(result.outcome, 'failed');
      assert.ok(result.outcome === 'failed' && /403.*destinationrules/.test(result.reason), JSON.stringify(result));
      assert.equal(result.attempts, 1);
    });

    it('does not loop on a 422 that is not a failed test op', async () => {
      fake.put('destinationrules', rule('default', 'reviews', 'reviews', ['v1']));
      const store = await connect();
      fake.failNext({ method: 'PATCH', status: 422, count: 10 });
      const result = await store.ensureSubset(subsetRequest('default', 'reviews', 'v2'), Date.now() + 2_000);
      assert.equal(result.outcome, 'failed');
      assert.equal(result.attempts, 2, 'one retry shows the resourceVersion did not move');
    });

    it('gives up by the deadline when the API server hangs', async () => {
      const store = await connect();
      assert.equal(await store.waitForSync(2_000), true);
      fake.latencyMs = 5_000;
      const started = Date.now();
      const result = await store.ensureSubset(subsetRequest('shop', 'cart', 'v1'), started + 300);
      assert.equal(result.outcome, 'failed');
      assert.ok(Date.now() - started < 600, `returned after ${Date.now() - started} ms`);
      fake.latencyMs = 0;
    });
  });

  describe('API server down', () => {
    it('at start: connectKubeStore rejects cleanly, naming the server', async () => {
      const url = fake.url;
      await fake.stop();
      const started = Date.now();
      await assert.rejects(connect({ connectTimeoutMs: 400 }), (err: Error) => err.message.includes(url) && /ECONNREFUSED/.test(err.message));
      assert.ok(Date.now() - started < 2_000);
    });

    it('after sync: the cache answers, refresh rejects, writes fail by the deadline, and it recovers', async () => {
      fake.put('destinationrules', rule('default', 'reviews', 'reviews', ['v1']));
      const store = await connect();
      assert.equal(await store.waitForSync(2_000), true);
      await fake.stop();

      assert.equal(store.isReady(), true);
      assert.deepEqual(names(store.candidatesForHost(fqdn('reviews', 'default'))), ['default/reviews']);
      await assert.rejects(store.refreshNamespaces(['default']), /cannot re-read DestinationRules.*(ECONNREFUSED|socket hang up|ECONNRESET)/);
      const started = Date.now();
      const result = await store.ensureSubset(subsetRequest('default', 'reviews', 'v2'), started + 500);
      assert.equal(result.outcome, 'failed');
      assert.ok(result.outcome === 'failed' && /deadline.*(ECONNREFUSED|socket hang up|ECONNRESET)/.test(result.reason), JSON.stringify(result));
      assert.ok(Date.now() - started < 800, `returned after ${Date.now() - started} ms`);

      await fake.start();
      fake.put('destinationrules', rule('default', 'details', 'details'));
      await waitFor('the cache to reconnect and see a new rule', () => store.candidatesForHost(fqdn('details', 'default')).length === 1, 5_000);
      const retried = await store.ensureSubset(subsetRequest('default', 'reviews', 'v2'), Date.now() + 2_000);
      assert.equal(retried.outcome, 'appended');
    });
  });

  it('listAllDestinationRules reads every namespace, page by page', async () => {
    for (let i = 0; i < 1_100; i++) fake.put('destinationrules', rule(`ns${i % 7}`, `r${i}`, `r${i}`));
    const all = await listAllDestinationRules(fake.kubeConfig());
    assert.equal(all.length, 1_100);
    assert.equal(new Set(names(all)).size, 1_100);
    assert.equal(fake.count({ method: 'GET', path: '/apis/networking.istio.io/v1/destinationrules' }), 3);
  });
});
