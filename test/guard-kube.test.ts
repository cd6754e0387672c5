// POST /guard through createApp, with the real client and the Kubernetes
// store against the fake API server: the four situations of SPEC §9 with
// their exact texts, a pre-existing broken reference, a stale cache, a
// namespace being deleted, warn mode.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import request from 'supertest';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import type { Obj } from './support/fake-objects.js';
import { deployment, namespace, virtualService } from './support/guard-fixtures.js';
import { memoryLogger, rule, settings, waitFor } from './support/kube-fixtures.js';

const drKind = { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule' };
const drResource = { group: 'networking.istio.io', version: 'v1', resource: 'destinationrules' };
const STILL_ROUTED_V2 = 'subset "v2" is still routed by VirtualService shop/reviews (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first';

describe('POST /guard against the fake API server', () => {
  let fake: FakeApiServer;
  let store: KubeStore;

  before(async () => {
    fake = new FakeApiServer();
    await fake.start();
  });
  after(async () => {
    await fake.stop();
  });
  beforeEach(async () => {
    fake.watches.resume();
    for (const plural of ['destinationrules', 'virtualservices', 'deployments', 'namespaces']) {
      for (const item of fake.objects.list(plural)) fake.objects.remove(plural, String(item.metadata!.namespace ?? ''), String(item.metadata!.name));
    }
    fake.put('namespaces', namespace('shop'));
    fake.put('destinationrules', rule('shop', 'reviews', 'reviews', ['v1', 'v2']));
    fake.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]));
    fake.put('deployments', deployment('shop', 'reviews', 'v1'));
    fake.put('deployments', deployment('shop', 'reviews', 'v2'));
    store = await connectKubeStore({ kubeConfig: fake.kubeConfig(), settings, logger: memoryLogger('fatal').logger });
    assert.equal(await store.waitForSync(5_000), true);
  });
  afterEach(async () => {
    await store.close();
  });

  const stored = (plural: string, name: string, ns = 'shop'): Obj => fake.objects.get(plural, ns, name)!;
  const guard = async (body: Record<string, unknown>, guardMode: 'deny' | 'warn' = 'deny'): Promise<ReviewAnswer['response']> => {
    const { app } = buildApp({ store, overrides: { guardMode } });
    return ((await request(app).post('/guard').send(body).expect(200)).body as ReviewAnswer).response;
  };
  const ruleReview = (operation: 'UPDATE' | 'DELETE', oldObject: unknown, object: unknown = null) =>
    review(object, { kind: drKind, resource: drResource, operation, namespace: 'shop', oldObject });
  const dropV2 = () => {
    const old = stored('destinationrules', 'reviews');
    const next = structuredClone(old) as { spec: { subsets: Array<{ name: string }> } };
    next.spec.subsets = next.spec.subsets.filter((subset) => subset.name !== 'v2');
    return ruleReview('UPDATE', old, next);
  };

  it('denies an UPDATE that drops a routed subset', async () => {
    const answer = await guard(dropV2());
    assert.equal(answer.allowed, false);
    assert.equal(answer.status?.code, 403);
    assert.equal(answer.status?.message, STILL_ROUTED_V2);
  });

  it('denies the DELETE of a routed rule, and of the companion rule holding the routed subset', async () => {
    const whole = await guard(ruleReview('DELETE', stored('destinationrules', 'reviews')));
    assert.equal(whole.allowed, false);
    assert.equal(whole.status?.message, [
      'subset "v1" is still routed by VirtualService shop/reviews (spec.http[0].route[0], weight 90); shift its traffic and remove the reference first',
      STILL_ROUTED_V2,
    ].join('\n'));

    fake.put('destinationrules', rule('shop', 'reviews', 'reviews', ['v1']));
    const companion = fake.put('destinationrules', { ...rule('shop', 'reviews-canary-webhook', 'reviews.shop.svc.cluster.local', ['v2']), metadata: { name: 'reviews-canary-webhook', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'canary-webhook' } } });
    await waitFor('the cache to see the companion', () => store.candidatesForHost('reviews.shop.svc.cluster.local').length === 2);
    const answer = await guard(ruleReview('DELETE', companion));
    assert.equal(answer.allowed, false);
    assert.equal(answer.status?.message, STILL_ROUTED_V2);
  });

  it('denies deleting the last Deployment of a version that gets weight 10', async () => {
    const old = stored('deployments', 'reviews-v2');
    const answer = await guard(review(null, { operation: 'DELETE', namespace: 'shop', oldObject: old, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }));
    assert.equal(answer.allowed, false);
    assert.equal(answer.status?.message, 'Deployment shop/reviews-v2 is the last one backing subset "v2" of reviews.shop.svc.cluster.local, and VirtualService shop/reviews sends it 10% of traffic (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first');
    assert.ok(fake.count({ method: 'GET', path: '/apis/apps/v1/namespaces/shop/deployments' }) >= 1, 'the other Deployments were read directly');
  });

  it('admits that delete with a warning once the weight is 0, and scale-to-zero with a warning', async () => {
    fake.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 100 }, { subset: 'v2', weight: 0 }]));
    await waitFor('the cache to see weight 0', () => ((store.routing!.virtualServicesRouting('reviews.shop.svc.cluster.local')[0]?.spec as { http: Array<{ route: Array<{ weight: number }> }> })?.http[0]?.route[1]?.weight === 0));
    const old = stored('deployments', 'reviews-v2');
    const answer = await guard(review(null, { operation: 'DELETE', namespace: 'shop', oldObject: old, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }));
    assert.equal(answer.allowed, true);
    assert.deepEqual(answer.warnings, ['Deployment shop/reviews-v2 is the last one backing subset "v2" of reviews.shop.svc.cluster.local; VirtualService shop/reviews still names it with weight 0 (spec.http[0].route[1]); remove the reference']);

    fake.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]));
    await waitFor('the cache to see weight 10', () => ((store.routing!.virtualServicesRouting('reviews.shop.svc.cluster.local')[0]?.spec as { http: Array<{ route: Array<{ weight: number }> }> })?.http[0]?.route[1]?.weight === 10));
    const scaled = structuredClone(old) as { spec: { replicas: number } };
    scaled.spec.replicas = 0;
    const scale = await guard(review(scaled, { operation: 'UPDATE', namespace: 'shop', oldObject: old, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }));
    assert.equal(scale.allowed, true);
    assert.deepEqual(scale.warnings, ['Deployment shop/reviews-v2 scaled to 0 leaves subset "v2" of reviews.shop.svc.cluster.local with no pods while VirtualService shop/reviews sends it 10% of traffic (spec.http[0].route[1]); shift its traffic first']);
  });

  it('allows an unrelated edit when a reference was already broken', async () => {
    fake.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v3', weight: 10 }]));
    await waitFor('the cache to see v3', () => JSON.stringify(store.routing!.virtualServicesRouting('reviews.shop.svc.cluster.local')).includes('"v3"'));
    const old = stored('destinationrules', 'reviews');
    const next = { ...old, spec: { ...(old.spec as object), trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } };
    const answer = await guard(ruleReview('UPDATE', old, next));
    assert.equal(answer.allowed, true, answer.status?.message);
  });

  it('does not deny from a stale cache: the VirtualService already moved off the subset in the API', async () => {
    fake.watches.silence(true); // the watches (open or still connecting) miss what follows
    fake.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 100 }]));
    assert.match(JSON.stringify(store.routing!.virtualServicesRouting('reviews.shop.svc.cluster.local')), /"v2"/, 'the cache still routes to v2');
    const reads = fake.count({ method: 'GET', path: '/apis/networking.istio.io/v1/namespaces/shop/virtualservices', watch: false });
    const answer = await guard(dropV2());
    assert.equal(answer.allowed, true, answer.status?.message);
    assert.equal(fake.count({ method: 'GET', path: '/apis/networking.istio.io/v1/namespaces/shop/virtualservices', watch: false }), reads + 1, 'one direct read');
  });

  it('never guards a namespace being deleted, even before the cache has seen it', async () => {
    fake.watches.silence(true);
    fake.put('namespaces', namespace('shop', {}, true));
    const answer = await guard(ruleReview('DELETE', stored('destinationrules', 'reviews')));
    assert.equal(answer.allowed, true, answer.status?.message);
  });

  it('admits with the denial as a warning in warn mode', async () => {
    const answer = await guard(dropV2(), 'warn');
    assert.equal(answer.allowed, true);
    assert.deepEqual(answer.warnings, [STILL_ROUTED_V2]);
  });
});
