// Issue 10, server side: reviews in flight are capped (429 + Retry-After),
// direct reads per review are capped and shared, and a namespace that is not
// a DNS-1123 label never reaches a read or a write. The real app, the real
// Kubernetes store and client, the fake API server counting what it gets.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import request from 'supertest';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger, rule, settings } from './support/kube-fixtures.js';
import { canaryDeployment, virtualService } from './support/objects.js';

/** Direct reads: a LIST of one namespace's DestinationRules (not a watch). */
const NAMESPACED_LIST = /^\/apis\/networking\.istio\.io\/[^/]+\/namespaces\/[^/]+\/destinationrules$/;
/** Any LIST of DestinationRules, namespaced or cluster-wide. */
const ANY_LIST = /\/destinationrules$/;

describe('bounded reviews against the Kubernetes store', () => {
  let api: FakeApiServer;
  let store: KubeStore;
  const log = memoryLogger('info');

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    api.put('destinationrules', rule('default', 'demo4', 'demo4', ['v1']) as never);
    store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings, logger: log.logger });
    assert.equal(await store.waitForSync(5_000), true);
  });
  afterEach(async () => {
    await store.close();
    await api.stop();
  });

  const lists = (pattern: RegExp): number => api.count({ method: 'GET', path: pattern, watch: false });
  const smallReviewAllowed = async (app: ReturnType<typeof buildApp>['app']): Promise<void> => {
    const answer = (await request(app).post('/validate').send(review(virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 100 }]))).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true);
  };

  it('one VirtualService naming 2,000 namespaces costs at most 16 direct LISTs (was 2,002), and is still denied', async () => {
    const { app } = buildApp({ store, overrides: { logger: log.logger } });
    const hosts = Array.from({ length: 2_000 }, (_, i) => `svc.tenant-${i}.svc.cluster.local`);
    const object = {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'wide' },
      spec: { hosts: ['wide'], http: hosts.map((host) => ({ route: [{ destination: { host, subset: 'v1' } }] })) },
    };
    const before = lists(NAMESPACED_LIST);
    const answer = (await request(app).post('/validate').send(review(object)).expect(200)).body as ReviewAnswer;
    const sent = lists(NAMESPACED_LIST) - before;
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', /^spec\.http\[0\]\.route\[0\]: subset "v1" of host svc\.tenant-0\.svc\.cluster\.local is not defined/);
    assert.match(answer.response.status?.message ?? '', /\.\.\. and 1900 more problems$/);
    assert.ok(sent >= 1 && sent <= 16, `${sent} direct LISTs`);
    // Its own namespace first, then the root namespace.
    const read = api.requests.filter((r) => NAMESPACED_LIST.test(r.path) && !r.watch).map((r) => r.path.split('/')[5]);
    assert.deepEqual(read.slice(0, 2), ['default', 'istio-system']);
    // The plan keeps 16 of the 2,002 namespaces (its own, the root, then those of missing hosts) and says so.
    assert.ok(log.lines.some((line) => /direct read capped/.test(String(line.msg)) && Number(line.omitted) >= 2_000 - 16), 'the cap is logged');
    await smallReviewAllowed(app);
  });

  it('--max-direct-reads sets the cap', async () => {
    const { app } = buildApp({ store, overrides: { maxDirectReads: 2 } });
    const object = virtualService('two', 'two', [{ host: 'a.ns-a.svc.cluster.local', subset: 'v1', weight: 50 }, { host: 'b.ns-b.svc.cluster.local', subset: 'v1', weight: 50 }]);
    const before = lists(NAMESPACED_LIST);
    const answer = (await request(app).post('/validate').send(review(object)).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, false);
    assert.equal(lists(NAMESPACED_LIST) - before, 2);
  });

  it('request.namespace ".." is denied before any read: no list of every namespace', async () => {
    const { app } = buildApp({ store });
    const before = lists(ANY_LIST);
    const validate = (await request(app).post('/validate').send(review(virtualService('demo4', 'demo4', [{ subset: 'v9', weight: 100 }]), { namespace: '..' })).expect(200)).body as ReviewAnswer;
    assert.equal(validate.response.allowed, false);
    assert.match(validate.response.status?.message ?? '', /^namespace "\.\." is not a valid namespace name \(a DNS-1123 label/);
    for (const namespace of ['a/b', 'Shop', 'x'.repeat(64), '%2e%2e']) {
      const answer = (await request(app).post('/validate').send(review(virtualService('demo4', 'demo4', [{ subset: 'v9', weight: 100 }]), { namespace })).expect(200)).body as ReviewAnswer;
      assert.equal(answer.response.allowed, false, namespace);
      assert.match(answer.response.status?.message ?? '', /is not a valid namespace name/, namespace);
    }
    assert.equal(lists(ANY_LIST) - before, 0, 'no LIST sent');
    await smallReviewAllowed(app);
  });

  it('a canary Deployment in namespace ".." is denied before any write', async () => {
    const { app } = buildApp({ store });
    const before = api.requests.length;
    const answer = (await request(app).post('/mutate').send(review(canaryDeployment('demo4-v2', 'v2'), { namespace: '..' })).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', /^namespace "\.\." is not a valid namespace name/);
    assert.deepEqual(api.requests.slice(before).filter((r) => !r.watch), [], 'nothing sent to the API server');
  });

  it('answers 429 with Retry-After past --max-in-flight, counts it, and serves again once reviews finish', async () => {
    const { app, deps } = buildApp({ store, overrides: { maxInFlight: 2 } });
    // Each denial-bound review waits on its direct read.
    api.latencyMs = 400;
    const denialBound = () => request(app).post('/validate').send(review(virtualService('demo4', 'demo4', [{ subset: 'v9', weight: 100 }])));
    const first = denialBound().then((r) => r);
    const second = denialBound().then((r) => r);
    // Let both reach their direct read.
    await waitUntil(() => api.count({ method: 'GET', path: NAMESPACED_LIST, watch: false }) >= 1);
    const third = await denialBound();
    assert.equal(third.status, 429);
    assert.equal(third.headers['retry-after'], '1');
    assert.match(third.text, /reviews in flight \(--max-in-flight\)/);
    for (const answered of await Promise.all([first, second])) {
      assert.equal(answered.status, 200);
      assert.equal((answered.body as ReviewAnswer).response.allowed, false);
    }
    api.latencyMs = 0;
    assert.match(await deps.metrics.registry.metrics(), /canary_webhook_admission_requests_total\{webhook="validate",operation="unknown",result="throttled"\} 1/);
    await smallReviewAllowed(app);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
