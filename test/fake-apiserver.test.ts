// The fake API server speaks what the real @kubernetes/client-node expects.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { FakeApiServer } from './support/fake-apiserver.js';
import { rule, waitFor } from './support/kube-fixtures.js';

const group = 'networking.istio.io';
const base = { group, version: 'v1', plural: 'destinationrules' };

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('fake API server with the real client', () => {
  const fake = new FakeApiServer();
  let api: CustomObjectsApi;
  before(async () => {
    await fake.start();
    api = fake.kubeConfig().makeApiClient(CustomObjectsApi);
  });
  after(() => fake.stop());

  it('creates, lists with a resourceVersion, gets, and answers 409 AlreadyExists', async () => {
    const created = (await api.createNamespacedCustomObject({ ...base, namespace: 'shop', body: rule('shop', 'cart', 'cart') })) as { metadata: Record<string, string> };
    assert.equal(created.metadata.resourceVersion, String(fake.objects.rv));
    assert.ok(created.metadata.uid);
    assert.equal(await status(api.createNamespacedCustomObject({ ...base, namespace: 'shop', body: rule('shop', 'cart', 'cart') })), 409);
    const list = (await api.listCustomObjectForAllNamespaces(base)) as { metadata: { resourceVersion: string }; items: unknown[]; kind: string };
    assert.equal(list.kind, 'DestinationRuleList');
    assert.equal(list.metadata.resourceVersion, String(fake.objects.rv));
    assert.equal(list.items.length, 1);
    const got = (await api.getNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart' })) as { apiVersion: string };
    assert.equal(got.apiVersion, 'networking.istio.io/v1');
    assert.equal(await status(api.getNamespacedCustomObject({ ...base, namespace: 'shop', name: 'nope' })), 404);
  });

  it('applies JSON Patch with a test op, and answers 422 when the test fails', async () => {
    const current = (await api.getNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart' })) as { metadata: { resourceVersion: string } };
    const options = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
    const ops = [
      { op: 'test', path: '/metadata/resourceVersion', value: current.metadata.resourceVersion },
      { op: 'add', path: '/spec/subsets', value: [{ name: 'v1', labels: { version: 'v1' } }] },
    ];
    await api.patchNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart', body: ops }, options);
    assert.equal(await status(api.patchNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart', body: ops }, options)), 422);
    const last = fake.requests.at(-1)!;
    assert.equal(last.contentType, 'application/json-patch+json');
    assert.equal(last.status, 422);
  });

  it('applies merge patches, and updates only with the current resourceVersion', async () => {
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    await api.patchNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart', body: { spec: { exportTo: ['.'] } } }, merge);
    const current = (await api.getNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart' })) as { metadata: { resourceVersion: string }; spec: Record<string, unknown> };
    assert.deepEqual(current.spec.exportTo, ['.']);
    assert.equal(await status(api.patchNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart', body: {} }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch))), 415);
    const stale = { ...current, metadata: { ...current.metadata, resourceVersion: '1' } };
    assert.equal(await status(api.replaceNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart', body: stale })), 409);
    await api.replaceNamespacedCustomObject({ ...base, namespace: 'shop', name: 'cart', body: { ...current, spec: { ...current.spec, host: 'cart.shop' } } });
    assert.equal((fake.objects.get('destinationrules', 'shop', 'cart')!.spec as { host: string }).host, 'cart.shop');
  });

  it('serves virtualservices too, and deletes', async () => {
    await api.createNamespacedCustomObject({ ...base, plural: 'virtualservices', namespace: 'shop', body: { metadata: { name: 'cart' }, spec: { hosts: ['cart'] } } });
    const list = (await api.listNamespacedCustomObject({ ...base, plural: 'virtualservices', namespace: 'shop' })) as { items: Array<{ kind: string }> };
    assert.equal(list.items[0]!.kind, 'VirtualService');
    await api.deleteNamespacedCustomObject({ ...base, plural: 'virtualservices', namespace: 'shop', name: 'cart' });
    assert.equal(await status(api.deleteNamespacedCustomObject({ ...base, plural: 'virtualservices', namespace: 'shop', name: 'cart' })), 404);
  });

  it('streams watch events and bookmarks, and answers a compacted resourceVersion with 410', async () => {
    const events: string[] = [];
    const from = String(fake.objects.rv);
    const watch = new Watch(fake.kubeConfig());
    let ended: unknown = 'open';
    const controller = await watch.watch(
      '/apis/networking.istio.io/v1/destinationrules',
      { resourceVersion: from, allowWatchBookmarks: true },
      (type, object: { metadata: { name?: string } }) => events.push(`${type} ${object.metadata?.name ?? ''}`),
      (err) => (ended = err),
    );
    fake.put('destinationrules', rule('shop', 'pay', 'pay') as never);
    fake.objects.remove('destinationrules', 'shop', 'pay');
    await waitFor('events and a bookmark', () => events.includes('DELETED pay') && events.some((e) => e.startsWith('BOOKMARK')));
    assert.deepEqual(events.filter((e) => !e.startsWith('BOOKMARK')), ['ADDED pay', 'DELETED pay']);
    fake.watches.dropAll();
    await waitFor('the watch to end', () => ended !== 'open');
    controller.abort();

    fake.compact();
    const gone: string[] = [];
    await watch.watch('/apis/networking.istio.io/v1/destinationrules', { resourceVersion: from }, (type, object: { code?: number }) => gone.push(`${type} ${object.code}`), () => {});
    await waitFor('the 410 event', () => gone.length > 0);
    assert.deepEqual(gone, ['ERROR 410']);
    fake.watches.goneAs = 'status';
    let error: { statusCode?: number } | undefined;
    await watch.watch('/apis/networking.istio.io/v1/destinationrules', { resourceVersion: from }, () => {}, (err) => (error = err as never));
    await waitFor('the 410 status', () => error);
    assert.equal(error!.statusCode, 410);
    fake.watches.goneAs = 'event';
  });

  it('injects faults, records requests, and goes down and up again', async () => {
    fake.failNext({ method: 'GET', path: '/namespaces/shop/', status: 500, count: 2 });
    assert.equal(await status(api.listNamespacedCustomObject({ ...base, namespace: 'shop' })), 500);
    assert.equal(await status(api.listNamespacedCustomObject({ ...base, namespace: 'shop' })), 500);
    assert.equal(await status(api.listNamespacedCustomObject({ ...base, namespace: 'shop' })), 200);
    assert.equal(fake.injected.get(500), 2);
    assert.ok(fake.count({ method: 'GET', path: '/namespaces/shop/destinationrules' }) >= 3);

    await fake.stop();
    await assert.rejects(api.listNamespacedCustomObject({ ...base, namespace: 'shop' }), /ECONNREFUSED/);
    await fake.start();
    assert.equal(await status(api.listNamespacedCustomObject({ ...base, namespace: 'shop' })), 200);
  });

  it('serves discovery for the configured versions only', async () => {
    fake.servedVersions = ['v1beta1'];
    assert.equal(await status(api.listNamespacedCustomObject({ ...base, namespace: 'shop' })), 404);
    assert.equal(await status(api.listNamespacedCustomObject({ ...base, version: 'v1beta1', namespace: 'shop' })), 200);
    fake.servedVersions = [];
    assert.equal(await status(api.getAPIResources({ group, version: 'v1beta1' })), 404);
    fake.servedVersions = ['v1', 'v1beta1', 'v1alpha3'];
  });
});
