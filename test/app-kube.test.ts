// The webhook against a Kubernetes API: the real app, the real Kubernetes
// store and the real @kubernetes/client-node, talking to the fake API server.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import request from 'supertest';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { buildApp, decodePatch, review, type ReviewAnswer } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger, rule, settings, waitFor } from './support/kube-fixtures.js';
import { canaryDeployment, virtualService } from './support/objects.js';

const host = 'demo4.default.svc.cluster.local';
type Stored = { spec: { subsets?: Array<{ name: string; labels: Record<string, string> }>; trafficPolicy?: unknown } };

describe('webhook with the Kubernetes store', () => {
  let api: FakeApiServer;
  let store: KubeStore;
  const { logger } = memoryLogger('fatal');

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    api.put('destinationrules', rule('default', 'demo4', 'demo4', ['v1'], { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }) as never);
    store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings, logger });
    assert.equal(await store.waitForSync(5_000), true);
  });
  afterEach(async () => {
    await store.close();
    await api.stop();
  });

  const stored = (): Stored => api.objects.get('destinationrules', 'default', 'demo4') as unknown as Stored;
  const writes = (): number => api.requests.filter((r) => ['POST', 'PATCH', 'PUT'].includes(r.method)).length;

  it('mutating a canary Deployment stores its subset on the API server, keeping the rest', async () => {
    const { app } = buildApp({ store });
    const deployment = canaryDeployment('demo4-v2', 'v2');
    const answer = (await request(app).post('/mutate').send(review(deployment)).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true);
    const patched = jsonpatch.applyPatch(structuredClone(deployment), decodePatch(answer) as jsonpatch.Operation[]).newDocument;
    assert.equal((patched.metadata as { labels: Record<string, string> }).labels.version, 'v2');
    assert.deepEqual(stored().spec.subsets?.map((s) => s.name), ['v1', 'v2']);
    assert.deepEqual(stored().spec.trafficPolicy, { tls: { mode: 'ISTIO_MUTUAL' } });
    const patchRequest = api.requests.find((r) => r.method === 'PATCH');
    assert.equal(patchRequest?.contentType, 'application/json-patch+json', 'a JSON Patch that tests resourceVersion first');

    // The write went through to the cache too: re-admitting causes no second write.
    const before = writes();
    const again = (await request(app).post('/mutate').send(review(patched)).expect(200)).body as ReviewAnswer;
    assert.deepEqual([again.response.allowed, again.response.patch], [true, undefined]);
    assert.equal(writes(), before);
  });

  it('creates the DestinationRule when the service has none', async () => {
    const { app } = buildApp({ store });
    await request(app).post('/mutate').send(review(canaryDeployment('shop-v1', 'v1', { app: 'shop' }))).expect(200);
    const created = api.objects.get('destinationrules', 'default', 'shop') as unknown as Stored & { metadata: { labels: Record<string, string> }; spec: { host: string } };
    assert.equal(created.spec.host, 'shop.default.svc.cluster.local');
    assert.equal(created.metadata.labels['app.kubernetes.io/managed-by'], 'canary-webhook');
    assert.deepEqual(created.spec.subsets, [{ name: 'v1', labels: { version: 'v1' } }]);
  });

  it('writes nothing on dryRun and says so', async () => {
    const { app } = buildApp({ store });
    const before = api.requests.length;
    const answer = (await request(app).post('/mutate').send(review(canaryDeployment('demo4-v3', 'v3'), { dryRun: true })).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true);
    assert.ok(decodePatch(answer).length > 0, 'the object is still mutated');
    assert.match(answer.response.warnings?.join('\n') ?? '', /dry run/);
    assert.equal(api.requests.slice(before).filter((r) => !r.watch).length, 0, 'no request reached the API server');
    assert.deepEqual(stored().spec.subsets?.map((s) => s.name), ['v1']);
  });

  it('allows a VirtualService whose DestinationRule was applied a moment ago (cache not yet updated)', async () => {
    const { app } = buildApp({ store });
    api.watches.silence(true);
    api.put('destinationrules', rule('default', 'demo4', 'demo4', ['v1', 'v2']) as never);
    assert.deepEqual(store.candidatesForHost(host)[0]?.spec.subsets?.map((s) => s.name), ['v1'], 'the cache has not seen it');
    const vs = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]);
    const directReads = (): number => api.count({ method: 'GET', path: '/namespaces/default/destinationrules', watch: false });
    const readsBefore = directReads();
    const answer = (await request(app).post('/validate').send(review(vs)).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true, answer.response.status?.message);
    assert.ok(directReads() > readsBefore, 'the namespace was read from the API server before deciding');
  });

  it('API server down after sync: validation answers from the cache, a subset write denies with the reason', async () => {
    const { app } = buildApp({ store, overrides: { subsetWriteTimeoutMs: 400 } });
    await api.stop();
    const ok = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 100 }]);
    assert.equal(((await request(app).post('/validate').send(review(ok)).expect(200)).body as ReviewAnswer).response.allowed, true);
    const missing = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 50 }, { subset: 'v9', weight: 50 }]);
    const denied = (await request(app).post('/validate').send(review(missing)).expect(200)).body as ReviewAnswer;
    assert.match(denied.response.status?.message ?? '', /subset "v9".*defines v1/);

    const answer = (await request(app).post('/mutate').send(review(canaryDeployment('demo4-v4', 'v4'))).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', /could not add subset "v4" to the DestinationRule for demo4\.default\.svc\.cluster\.local/);

    const { app: lenient } = buildApp({ store, overrides: { subsetWriteTimeoutMs: 400, onSubsetError: 'warn' } });
    const warned = (await request(lenient).post('/mutate').send(review(canaryDeployment('demo4-v4', 'v4'))).expect(200)).body as ReviewAnswer;
    assert.equal(warned.response.allowed, true);
    assert.ok(decodePatch(warned).length > 0);
    assert.match(warned.response.warnings?.join('\n') ?? '', /subset not written/);
  });
});

describe('webhook with the Kubernetes store: concurrent canaries of one service', () => {
  let api: FakeApiServer;
  let stores: KubeStore[];
  before(async () => {
    api = new FakeApiServer();
    await api.start();
    api.latencyMs = { min: 0, max: 3 };
    api.put('destinationrules', rule('default', 'demo4', 'demo4', ['v1'], { exportTo: ['.'] }) as never);
    // Two webhook replicas, as deployed: their writes race for real.
    stores = await Promise.all([0, 1].map(() => connectKubeStore({ kubeConfig: api.kubeConfig(), settings, logger: memoryLogger('fatal').logger })));
    await Promise.all(stores.map((s) => s.waitForSync(5_000)));
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await api.stop();
  });

  it('30 Deployments admitted at once through two replicas end with every subset stored', async () => {
    const apps = stores.map((store) => buildApp({ store }).app);
    api.failNext({ method: 'PATCH', status: 409, count: 8 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      request(apps[i % 2]!).post('/mutate').send(review(canaryDeployment(`demo4-r${i}`, `r${i}`))).expect(200)));
    for (const answer of answers) assert.equal((answer.body as ReviewAnswer).response.allowed, true, (answer.body as ReviewAnswer).response.status?.message);
    const names = ((api.objects.get('destinationrules', 'default', 'demo4') as unknown as Stored).spec.subsets ?? []).map((s) => s.name);
    assert.equal(names.length, 31);
    for (let i = 0; i < 30; i++) assert.ok(names.includes(`r${i}`), `r${i}`);
    await waitFor('both caches to converge', () => stores.every((s) => s.candidatesForHost(host)[0]?.spec.subsets?.length === 31));
  });
});

describe('connections to the API server', () => {
  it('are reused across API calls instead of one new connection per call', async () => {
    const api = new FakeApiServer();
    await api.start();
    const store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings, logger: memoryLogger('fatal').logger });
    try {
      await store.waitForSync(5_000);
      const openedBefore = api.connectionsOpened;
      const callsBefore = api.requests.filter((r) => !r.watch).length;
      for (let i = 0; i < 10; i++) {
        const result = await store.ensureSubset({ namespace: 'default', service: 'pool', host: 'pool.default.svc.cluster.local', subsetName: `v${i}`, labels: { version: `v${i}` } }, Date.now() + 3_000);
        assert.notEqual(result.outcome, 'failed');
      }
      const calls = api.requests.filter((r) => !r.watch).length - callsBefore;
      const opened = api.connectionsOpened - openedBefore;
      assert.equal(calls, 10, 'planned from the cache: one write per new subset, no read');
      assert.ok(opened <= 2, `${calls} API calls over ${opened} new connections`);
    } finally {
      await store.close();
      await api.stop();
    }
  });
});
