// The generic list-then-watch cache instantiated for VirtualServices and
// Namespaces, with the real client against the fake API server: indexes by
// routed host and mesh claim, namespace labels and deletion, readiness that
// waits for every cache, relist on 410, and direct reads that a late watch
// event cannot roll back.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { deployment, namespace, virtualService } from './support/guard-fixtures.js';
import { memoryLogger, settings, waitFor } from './support/kube-fixtures.js';

const reviews = 'reviews.shop.svc.cluster.local';
const names = (objects: readonly { metadata: { namespace?: string; name: string } }[]): string[] => objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

describe('VirtualService and Namespace caches', () => {
  let fake: FakeApiServer;
  let store: KubeStore | undefined;

  const start = async (): Promise<KubeStore> => {
    store = await connectKubeStore({ kubeConfig: fake.kubeConfig(), settings, logger: memoryLogger('fatal').logger, watchBackoff: { baseMs: 20, maxMs: 200 } });
    assert.equal(await store.waitForSync(3_000), true);
    return store;
  };
  const routing = () => store!.routing!;

  beforeEach(async () => {
    fake = new FakeApiServer();
    await fake.start();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await fake.stop();
  });

  it('indexes VirtualServices by every host pattern they route a subset to, and follows changes', async () => {
    fake.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]));
    await start();
    assert.deepEqual(names(routing().virtualServicesRouting(reviews)), ['shop/reviews']);
    assert.deepEqual(names(routing().virtualServicesRouting('*.shop.svc.cluster.local')), ['shop/reviews']);
    assert.deepEqual(names(routing().virtualServicesRouting('*')), ['shop/reviews']);
    assert.deepEqual(names(routing().virtualServicesRouting('ratings.shop.svc.cluster.local')), []);

    fake.put('virtualservices', virtualService('shop', 'reviews', 'ratings', [{ subset: 'v1' }]));
    await waitFor('the watch to move the VirtualService', () => routing().virtualServicesRouting(reviews).length === 0);
    assert.deepEqual(names(routing().virtualServicesRouting('ratings.shop.svc.cluster.local')), ['shop/reviews']);
    fake.objects.remove('virtualservices', 'shop', 'reviews');
    await waitFor('the delete', () => routing().virtualServicesRouting('ratings.shop.svc.cluster.local').length === 0);
  });

  it('indexes mesh host claims per namespace (gateways empty or naming mesh only)', async () => {
    fake.put('virtualservices', virtualService('shop', 'a', 'reviews', [{ subset: 'v1' }]));
    fake.put('virtualservices', virtualService('shop', 'edge', 'reviews', [{ subset: 'v1' }], { gateways: ['istio-system/public'] }));
    fake.put('virtualservices', virtualService('shop', 'both', 'reviews', [{ subset: 'v1' }], { gateways: ['mesh', 'istio-system/public'] }));
    await start();
    assert.deepEqual(names(routing().meshClaims('shop', reviews)), ['shop/a', 'shop/both']);
    assert.deepEqual(names(routing().meshClaims('other', reviews)), []);
  });

  it('knows namespace labels and which namespaces are being deleted, from the cache or fresh', async () => {
    fake.put('namespaces', namespace('shop', { 'istio-injection': 'enabled' }));
    fake.put('namespaces', namespace('gone', {}, true));
    await start();
    assert.deepEqual(store!.namespaceLabels!('shop'), { 'istio-injection': 'enabled' });
    assert.equal(store!.namespaceLabels!('nowhere'), undefined);
    assert.equal(await routing().namespaceTerminating('gone'), true);
    assert.equal(await routing().namespaceTerminating('shop'), false);

    fake.watches.silence(true); // the cache misses the deletion that starts now
    fake.put('namespaces', namespace('shop', { 'istio-injection': 'enabled' }, true));
    assert.equal(await routing().namespaceTerminating('shop'), false, 'the cache has not seen it');
    assert.equal(await routing().namespaceTerminating('shop', true), true, 'a fresh read has');
    assert.equal(await routing().namespaceTerminating('shop'), true, 'and the read is folded into the cache');
  });

  it('is not ready until every cache has listed', async () => {
    fake.failNext({ method: 'GET', path: '/api/v1/namespaces', status: 500, count: 3 });
    store = await connectKubeStore({ kubeConfig: fake.kubeConfig(), settings, logger: memoryLogger('fatal').logger, watchBackoff: { baseMs: 100, maxMs: 200 } });
    await waitFor('DestinationRules to sync', () => fake.count({ method: 'GET', path: '/destinationrules', watch: true }) > 0);
    assert.equal(store.isReady(), false, 'Namespaces have not listed yet');
    assert.equal(await store.waitForSync(5_000), true);
    assert.equal(store.isReady(), true);
    assert.equal(fake.injected.get(500), 3);
  });

  it('relists VirtualServices after 410 Gone, seeing what the dead watch missed', async () => {
    await start();
    fake.watches.silence(true);
    fake.put('virtualservices', virtualService('shop', 'missed', 'reviews', [{ subset: 'v1' }]));
    fake.compact();
    fake.watches.dropAll();
    await waitFor('the relisted VirtualService', () => routing().virtualServicesRouting(reviews).length === 1, 5_000);
    assert.ok(fake.count({ method: 'GET', path: '/apis/networking.istio.io/v1/virtualservices', watch: false }) >= 2);
  });

  it('folds a direct re-read into the cache, and an older copy never replaces a newer one', async () => {
    await start();
    fake.watches.silence(true);
    fake.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1' }]));
    assert.equal(routing().virtualServicesRouting(reviews).length, 0, 'the silent watch missed it');
    await routing().refreshVirtualServices(['shop']);
    assert.deepEqual(names(routing().virtualServicesRouting(reviews)), ['shop/reviews']);
  });

  it('reads the Deployments of a namespace directly', async () => {
    fake.put('deployments', deployment('shop', 'reviews', 'v1'));
    fake.put('deployments', deployment('shop', 'reviews', 'v2', 0));
    fake.put('deployments', deployment('other', 'reviews', 'v3'));
    await start();
    const found = await routing().deploymentsIn('shop');
    assert.deepEqual(names(found), ['shop/reviews-v1', 'shop/reviews-v2']);
    assert.deepEqual(found[1]!.spec?.template?.metadata?.labels, { app: 'reviews', version: 'v2', 'sidecar.istio.io/inject': 'true' });
    assert.equal(found[1]!.spec?.replicas, 0);
  });
});
