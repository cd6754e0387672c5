// The guard on a laptop: the memory store holds what /validate and /mutate
// admitted and what /guard let through, so the same answers come back as in
// a cluster. Also the duplicate mesh-host warning of /validate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { deployment, virtualService } from './support/guard-fixtures.js';
import { rule } from './support/kube-fixtures.js';

const drKind = { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule' };
const drResource = { group: 'networking.istio.io', version: 'v1', resource: 'destinationrules' };
const deploymentKind = { group: 'apps', version: 'v1', kind: 'Deployment' };

function managedRule(namespace: string, name: string, host: string, subsets: string[]): ReturnType<typeof rule> {
  const made = rule(namespace, name, host, subsets);
  return { ...made, metadata: { ...made.metadata, labels: { 'app.kubernetes.io/managed-by': 'canary-webhook' } } };
}

describe('guard in standalone mode (memory store)', () => {
  it('remembers admitted VirtualServices and Deployments, and guards against them', async () => {
    // The webhook's own rule, so /mutate appends v2 to it (beside a user rule it would use the companion).
    const { app } = buildApp({ seed: [managedRule('shop', 'reviews', 'reviews', ['v1'])] });
    const post = async (path: string, body: object): Promise<ReviewAnswer['response']> =>
      ((await request(app).post(path).send(body).expect(200)).body as ReviewAnswer).response;

    // The canary Deployment: /mutate adds subset v2 to the DestinationRule and remembers the Deployment.
    for (const version of ['v1', 'v2']) {
      const answer = await post('/mutate', review(deployment('shop', 'reviews', version), { namespace: 'shop' }));
      assert.equal(answer.allowed, true, answer.status?.message);
    }
    const split = virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]);
    assert.equal((await post('/validate', review(split, { namespace: 'shop' }))).allowed, true);

    const denied = await post('/guard', review(null, { operation: 'DELETE', namespace: 'shop', oldObject: deployment('shop', 'reviews', 'v2'), kind: deploymentKind }));
    assert.equal(denied.allowed, false);
    assert.match(denied.status!.message, /^Deployment shop\/reviews-v2 is the last one backing subset "v2" of reviews\.shop\.svc\.cluster\.local, and VirtualService shop\/reviews sends it 10% of traffic/);

    const stored = managedRule('shop', 'reviews', 'reviews', ['v1', 'v2']);
    const dropped = await post('/guard', review(managedRule('shop', 'reviews', 'reviews', ['v1']), { kind: drKind, resource: drResource, operation: 'UPDATE', namespace: 'shop', oldObject: stored }));
    assert.equal(dropped.allowed, false);
    assert.equal(dropped.status!.message, 'subset "v2" is still routed by VirtualService shop/reviews (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first');

    // Make before break: move the traffic, then the subset may go.
    assert.equal((await post('/validate', review(virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 100 }]), { namespace: 'shop', operation: 'UPDATE' }))).allowed, true);
    assert.equal((await post('/guard', review(managedRule('shop', 'reviews', 'reviews', ['v1']), { kind: drKind, resource: drResource, operation: 'UPDATE', namespace: 'shop', oldObject: stored }))).allowed, true);
    const deleted = await post('/guard', review(null, { operation: 'DELETE', namespace: 'shop', oldObject: deployment('shop', 'reviews', 'v2'), kind: deploymentKind }));
    assert.equal(deleted.allowed, true, deleted.status?.message);

    // The admitted DestinationRule edit is now the store's: a VirtualService naming v2 is refused.
    const stale = await post('/validate', review(split, { namespace: 'shop', operation: 'UPDATE' }));
    assert.equal(stale.allowed, false);
    assert.match(stale.status!.message, /subset "v2" of host reviews\.shop\.svc\.cluster\.local is not defined/);
  });

  it('with --guard=off, /guard admits everything', async () => {
    const { app } = buildApp({ seed: [rule('shop', 'reviews', 'reviews', ['v1'])], overrides: { guardMode: 'off' } });
    await request(app).post('/validate').send(review(virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1' }]), { namespace: 'shop' })).expect(200);
    const answer = (await request(app).post('/guard').send(review(null, { kind: drKind, resource: drResource, operation: 'DELETE', namespace: 'shop', oldObject: rule('shop', 'reviews', 'reviews', ['v1']) })).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true);
  });

  it('warns when a second VirtualService claims a mesh host another already claims', async () => {
    const { app } = buildApp({ seed: [rule('shop', 'reviews', 'reviews', ['v1'])] });
    await request(app).post('/validate').send(review(virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1' }]), { namespace: 'shop' })).expect(200);
    const second = (await request(app).post('/validate').send(review(virtualService('shop', 'reviews-canary', 'reviews', [{ subset: 'v1' }]), { namespace: 'shop' })).expect(200)).body as ReviewAnswer;
    assert.equal(second.response.allowed, true);
    assert.deepEqual(second.response.warnings, ['spec.hosts: reviews.shop.svc.cluster.local is also a mesh host of VirtualService shop/reviews; sidecars use one']);
    const again = (await request(app).post('/validate').send(review(virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1' }]), { namespace: 'shop', operation: 'UPDATE' })).expect(200)).body as ReviewAnswer;
    assert.deepEqual(again.response.warnings, ['spec.hosts: reviews.shop.svc.cluster.local is also a mesh host of VirtualService shop/reviews-canary; sidecars use one']);
  });

  it('answers junk and a 3 MiB rule with a clean verdict, never an HTTP 500', async () => {
    const { app } = buildApp({ seed: [rule('shop', 'reviews', 'reviews', ['v1', 'v2'])] });
    await request(app).post('/validate').send(review(virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]), { namespace: 'shop' })).expect(200);
    const huge = rule('shop', 'reviews', 'reviews', Array.from({ length: 40_000 }, (_, i) => `subset-number-${i}`));
    const junk: Array<[unknown, unknown]> = [
      [null, null], ['x', 7], [{ spec: [] }, { metadata: 'no' }], [{ metadata: { name: 'reviews' }, spec: { host: ['x'], subsets: [null, 1, { name: {} }] } }, rule('shop', 'reviews', 'reviews', ['v1', 'v2'])],
      [huge, rule('shop', 'reviews', 'reviews', ['v1', 'v2'])], [rule('shop', 'reviews', 'reviews', ['v1', 'v2']), huge],
    ];
    for (const [object, oldObject] of junk) {
      for (const operation of ['UPDATE', 'DELETE']) {
        const answer = (await request(app).post('/guard').send(review(object, { kind: drKind, resource: drResource, operation, namespace: 'shop', oldObject })).expect(200)).body as ReviewAnswer;
        assert.equal(typeof answer.response.allowed, 'boolean');
      }
    }
    const deny = (await request(app).post('/guard').send(review(huge, { kind: drKind, resource: drResource, operation: 'UPDATE', namespace: 'shop', oldObject: rule('shop', 'reviews', 'reviews', ['v1', 'v2']) })).expect(200)).body as ReviewAnswer;
    assert.equal(deny.response.allowed, false, 'the huge rule drops v1 and v2');
    await request(app).post('/guard').send('not json').set('content-type', 'application/json').expect(400);
  });
});
