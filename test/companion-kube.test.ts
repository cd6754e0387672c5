// The companion DestinationRule end to end (issue 11): the real app, the
// Kubernetes store and @kubernetes/client-node against the fake API server,
// with a rule kept in Git the way Argo CD or Flux keeps it.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import request from 'supertest';
import type { DestinationRule } from '../src/rules/types.js';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { companionSettings, memoryLogger, waitFor } from './support/kube-fixtures.js';
import { canaryDeployment, virtualService } from './support/objects.js';

const HOST = 'reviews.default.svc.cluster.local';

/** The rule as it sits in Git: applied again on every sync. */
const gitRule = (exportTo: string[] = ['.']): DestinationRule => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'reviews', namespace: 'default', labels: { 'app.kubernetes.io/instance': 'bookinfo', owner: 'team-books' } },
  spec: { host: 'reviews', exportTo, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
});

describe('companion DestinationRule beside a Git-managed rule', () => {
  let api: FakeApiServer;
  let store: KubeStore;

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    api.put('destinationrules', gitRule() as never);
    store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings: companionSettings, logger: memoryLogger('fatal').logger });
    assert.equal(await store.waitForSync(5_000), true);
  });
  afterEach(async () => {
    await store.close();
    await api.stop();
  });

  const stored = (name: string): DestinationRule | undefined => api.objects.get('destinationrules', 'default', name) as unknown as DestinationRule | undefined;
  const calls = (): number => api.requests.filter((r) => !r.watch).length;
  const mutate = async (app: Parameters<typeof request>[0], name: string, version: string): Promise<ReviewAnswer> =>
    (await request(app).post('/mutate').send(review(canaryDeployment(name, version, { app: 'reviews' }))).expect(200)).body as ReviewAnswer;
  const validate9010 = async (app: Parameters<typeof request>[0]): Promise<ReviewAnswer> =>
    (await request(app).post('/validate').send(review(virtualService('reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]))).expect(200)).body as ReviewAnswer;

  it('admitting reviews-v2 leaves the user rule untouched, puts v2 in the companion with one API call, and 90/10 is allowed', async () => {
    const { app } = buildApp({ store });
    const before = stored('reviews')!;
    const callsBefore = calls();
    const answer = await mutate(app, 'reviews-v2', 'v2');
    assert.equal(answer.response.allowed, true, answer.response.status?.message);
    assert.equal(calls() - callsBefore, 1, 'one API call for one new subset: no list first');

    assert.equal(stored('reviews')!.metadata.resourceVersion, before.metadata.resourceVersion, 'the user rule was not written');
    assert.deepEqual(stored('reviews'), before);
    const companion = stored('reviews-canary-webhook')!;
    assert.deepEqual(companion.spec, { host: HOST, exportTo: ['.'], subsets: [{ name: 'v2', labels: { version: 'v2' } }] });
    assert.equal(companion.metadata.labels?.['app.kubernetes.io/managed-by'], 'canary-webhook');

    assert.equal((await validate9010(app)).response.allowed, true);

    // The next version is one PATCH of the companion.
    const callsBeforeV3 = calls();
    assert.equal((await mutate(app, 'reviews-v3', 'v3')).response.allowed, true);
    assert.deepEqual(api.requests.slice(-1).map((r) => r.method), ['PATCH']);
    assert.equal(calls() - callsBeforeV3, 1);
    assert.deepEqual(stored('reviews-canary-webhook')!.spec.subsets?.map((s) => s.name), ['v2', 'v3']);
  });

  it('re-applying the user rule as written (a GitOps sync) leaves v2 routable', async () => {
    const { app } = buildApp({ store });
    await mutate(app, 'reviews-v2', 'v2');
    api.put('destinationrules', gitRule() as never);
    await waitFor('the cache to see the sync', () => store.candidatesForHost(HOST).some((r) => r.metadata.name === 'reviews' && r.metadata.resourceVersion === stored('reviews')!.metadata.resourceVersion));
    assert.deepEqual(stored('reviews')!.spec.subsets?.map((s) => s.name), ['v1']);
    assert.equal((await validate9010(app)).response.allowed, true);
  });

  it('a user rule re-applied with another exportTo: the companion no longer counts, the denial says why, the next admission realigns it', async () => {
    const { app } = buildApp({ store });
    await mutate(app, 'reviews-v2', 'v2');
    api.put('destinationrules', gitRule(['*']) as never);
    await waitFor('the cache to see the new exportTo', () => store.candidatesForHost(HOST).some((r) => r.metadata.name === 'reviews' && r.spec.exportTo?.[0] === '*'));
    const denied = await validate9010(app);
    assert.equal(denied.response.allowed, false);
    // Istio keeps the two apart and a proxy uses the newer one (the companion, sidecar.go's catch-all):
    // it is v1 that stops resolving, and the denial says why.
    assert.equal(
      denied.response.status?.message,
      'spec.http[0].route[0]: subset "v1" of host reviews.default.svc.cluster.local is not defined; DestinationRule default/reviews-canary-webhook defines v2; ' +
        'DestinationRule default/reviews defines it but Istio does not merge it with default/reviews-canary-webhook: their exportTo differ (["*"] vs ["."])',
    );

    assert.equal((await mutate(app, 'reviews-v3', 'v3')).response.allowed, true);
    assert.deepEqual(stored('reviews-canary-webhook')!.spec.exportTo, ['*']);
    assert.deepEqual(stored('reviews-canary-webhook')!.spec.subsets?.map((s) => s.name), ['v2', 'v3']);
    assert.equal((await validate9010(app)).response.allowed, true);
  });

  it('the user rule later defines v2 itself: the companion, left empty, is deleted', async () => {
    const { app } = buildApp({ store });
    await mutate(app, 'reviews-v2', 'v2');
    const adopted = gitRule();
    adopted.spec.subsets!.push({ name: 'v2', labels: { version: 'v2' } });
    api.put('destinationrules', adopted as never);
    await waitFor('the cache to see v2 in the user rule', () => store.candidatesForHost(HOST).some((r) => r.metadata.name === 'reviews' && r.spec.subsets?.length === 2));
    assert.equal((await mutate(app, 'reviews-v2', 'v2')).response.allowed, true);
    assert.equal(stored('reviews-canary-webhook'), undefined);
    assert.equal((await validate9010(app)).response.allowed, true);
  });

  it('past --max-subsets the Deployment is denied with the count and how to clean up', async () => {
    await store.close();
    store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings: { ...companionSettings, maxSubsets: 2 }, logger: memoryLogger('fatal').logger });
    assert.equal(await store.waitForSync(5_000), true);
    const { app } = buildApp({ store });
    for (const version of ['v2', 'v3']) assert.equal((await mutate(app, `reviews-${version}`, version)).response.allowed, true);
    const callsBefore = calls();
    const denied = await mutate(app, 'reviews-v4', 'v4');
    assert.equal(denied.response.allowed, false);
    assert.equal(denied.response.status?.code, 403);
    assert.match(denied.response.status?.message ?? '', /already holds 2 subsets.*--max-subsets=2.*kubectl edit destinationrule -n default reviews-canary-webhook/);
    assert.equal(calls(), callsBefore, 'refused from the cache: no API call');
  });
});

describe('API calls per new subset', () => {
  it('1 per subset without conflicts; a conflict costs one re-list and one retry', async () => {
    const api = new FakeApiServer();
    await api.start();
    const store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings: companionSettings, logger: memoryLogger('fatal').logger });
    try {
      assert.equal(await store.waitForSync(5_000), true);
      const subset = (v: string) => ({ namespace: 'default', service: 'cart', host: 'cart.default.svc.cluster.local', subsetName: v, labels: { version: v } });
      const before = api.requests.filter((r) => !r.watch).length;
      for (let i = 0; i < 20; i++) assert.notEqual((await store.ensureSubset(subset(`v${i}`), Date.now() + 3_000)).outcome, 'failed');
      const requests = api.requests.filter((r) => !r.watch).slice(before);
      assert.equal(requests.length, 20, requests.map((r) => `${r.method} ${r.path}`).join('\n'));
      assert.deepEqual([...new Set(requests.map((r) => r.method))].sort(), ['PATCH', 'POST']);

      api.failNext({ method: 'PATCH', status: 409, count: 1 });
      const mark = api.requests.filter((r) => !r.watch).length;
      assert.equal((await store.ensureSubset(subset('v99'), Date.now() + 3_000)).outcome, 'appended');
      assert.deepEqual(api.requests.filter((r) => !r.watch).slice(mark).map((r) => r.method), ['PATCH', 'GET', 'PATCH']);
    } finally {
      await store.close();
      await api.stop();
    }
  });
});
