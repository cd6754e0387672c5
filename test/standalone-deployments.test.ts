// Standalone mode keeps one record of Deployments, read by the guard (SPEC
// §9) and the readiness check (SPEC §10): what /guard lets go, or scales to
// 0, the next /validate sees at once. Driven through the real HTTP layer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import request from 'supertest';
import { parseServeConfig } from '../src/config.js';
import { defaultRuleSettings, type RuleSettings } from '../src/rules/types.js';
import { openStore } from '../src/server/open-store.js';
import { MAX_DEPLOYMENTS } from '../src/store/memory-deployments.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { MemoryWorkloads } from '../src/store/memory-workloads.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { deployment, virtualService } from './support/guard-fixtures.js';
import { rule } from './support/kube-fixtures.js';
import { canaryDeployment, virtualService as defaultVirtualService } from './support/objects.js';

const deploymentKind = { group: 'apps', version: 'v1', kind: 'Deployment' };
const split = virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]);
const allOnV1 = virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 100 }, { subset: 'v2', weight: 0 }]);
const NO_V2 = 'spec.http[0].route[1]: subset "v2" of reviews.shop.svc.cluster.local selects no ready pod (no Deployment matches its labels); traffic sent there gets 503';
const V2_AT_ZERO = 'spec.http[0].route[1]: subset "v2" of reviews.shop.svc.cluster.local selects no ready pod (1 matching Deployment, scaled to 0); traffic sent there gets 503';

/** The standalone wiring of open-store.ts: the readiness reader reads the memory store's Deployments. */
function standalone(settings: Partial<RuleSettings> = {}) {
  const store = new MemoryStore({ ...defaultRuleSettings, ...settings }, [managedRule(['v1'])]);
  const { app } = buildApp({ store, settings, overrides: { readiness: { reader: new MemoryWorkloads(store.deployments), maxReads: 10, timeoutMs: 1_000 } } });
  const post = async (path: string, body: object): Promise<ReviewAnswer['response']> => ((await request(app).post(path).send(body).expect(200)).body as ReviewAnswer).response;
  const mutate = async (object: object, operation = 'CREATE', oldObject?: object): Promise<void> => {
    const answer = await post('/mutate', review(object, { namespace: 'shop', operation, oldObject }));
    assert.equal(answer.allowed, true, answer.status?.message);
  };
  const guard = (oldObject: object | null, object: object | null = null, operation = object ? 'UPDATE' : 'DELETE') =>
    post('/guard', review(object, { operation, namespace: 'shop', oldObject, kind: deploymentKind }));
  const validate = (object: object, operation = 'UPDATE') => post('/validate', review(object, { namespace: 'shop', operation }));
  return { store, post, mutate, guard, validate };
}

/** The webhook's own rule, so /mutate appends new subsets to it. */
function managedRule(subsets: string[]): ReturnType<typeof rule> {
  const made = rule('shop', 'reviews', 'reviews', subsets);
  return { ...made, metadata: { ...made.metadata, labels: { 'app.kubernetes.io/managed-by': 'canary-webhook' } } };
}

describe('standalone: a Deployment /guard lets go is gone for the readiness check too', () => {
  it('delete after shifting traffic away: routing back to that version warns that no Deployment matches', async () => {
    const { mutate, guard, validate } = standalone();
    await mutate(deployment('shop', 'reviews', 'v1'));
    await mutate(deployment('shop', 'reviews', 'v2'));
    const routed = await validate(split, 'CREATE');
    assert.equal(routed.allowed, true);
    assert.deepEqual(routed.warnings ?? [], []);

    // Make before break: traffic off v2, then the Deployment may go.
    assert.equal((await validate(allOnV1)).allowed, true);
    const deleted = await guard(deployment('shop', 'reviews', 'v2'));
    assert.equal(deleted.allowed, true, deleted.status?.message);
    assert.deepEqual(deleted.warnings, ['Deployment shop/reviews-v2 is the last one backing subset "v2" of reviews.shop.svc.cluster.local; VirtualService shop/reviews still names it with weight 0 (spec.http[0].route[1]); remove the reference']);

    const back = await validate(split);
    assert.equal(back.allowed, true);
    assert.deepEqual(back.warnings, [NO_V2]);

    // Deployed again: ready again.
    await mutate(deployment('shop', 'reviews', 'v2'));
    assert.deepEqual((await validate(split)).warnings ?? [], []);
  });

  it('--ready-policy=deny: a route to a version deleted before anything routed to it is refused', async () => {
    const { mutate, guard, validate } = standalone({ readyPolicy: 'deny' });
    await mutate(deployment('shop', 'reviews', 'v1'));
    await mutate(deployment('shop', 'reviews', 'v2'));
    // No VirtualService routes to v2 yet: nothing to guard, admitted without a word.
    const deleted = await guard(deployment('shop', 'reviews', 'v2'));
    assert.equal(deleted.allowed, true);
    assert.deepEqual(deleted.warnings ?? [], []);

    const denied = await validate(split, 'CREATE');
    assert.equal(denied.allowed, false);
    assert.equal(denied.status?.message, `${NO_V2}; shift traffic once it has Ready pods`);
    assert.equal((await validate(allOnV1, 'CREATE')).allowed, true);
  });

  it('a DELETE whose review carries only the name (no oldObject) is forgotten too', async () => {
    const { mutate, post, validate } = standalone();
    await mutate(deployment('shop', 'reviews', 'v1'));
    await mutate(deployment('shop', 'reviews', 'v2'));
    const body = review(null, { operation: 'DELETE', namespace: 'shop', kind: deploymentKind }) as { request: Record<string, unknown> };
    body.request.name = 'reviews-v2';
    assert.equal((await post('/guard', body)).allowed, true);
    assert.deepEqual((await validate(split, 'CREATE')).warnings, [NO_V2]);
  });

  it('a dry-run DELETE changes nothing', async () => {
    const { mutate, post, validate } = standalone();
    await mutate(deployment('shop', 'reviews', 'v1'));
    await mutate(deployment('shop', 'reviews', 'v2'));
    await post('/guard', review(null, { operation: 'DELETE', namespace: 'shop', oldObject: deployment('shop', 'reviews', 'v2'), kind: deploymentKind, dryRun: true }));
    assert.deepEqual((await validate(split, 'CREATE')).warnings ?? [], []);
  });
});

describe('standalone: scaling is seen by both features', () => {
  it('scale to 0 through /guard, back up and down again through /mutate', async () => {
    const { store, mutate, guard, validate } = standalone();
    await mutate(deployment('shop', 'reviews', 'v1'));
    await mutate(deployment('shop', 'reviews', 'v2'));
    assert.deepEqual((await validate(split, 'CREATE')).warnings ?? [], []);
    const replicas = async () => Object.fromEntries((await store.routing.deploymentsIn('shop')).map((d) => [d.metadata.name, d.spec?.replicas]));

    // `kubectl scale` goes to the scale subresource, which /mutate never sees: /guard's record is the one that counts.
    const scaled = await guard(deployment('shop', 'reviews', 'v2', 1), deployment('shop', 'reviews', 'v2', 0));
    assert.equal(scaled.allowed, true);
    assert.deepEqual(scaled.warnings, ['Deployment shop/reviews-v2 scaled to 0 leaves subset "v2" of reviews.shop.svc.cluster.local with no pods while VirtualService shop/reviews sends it 10% of traffic (spec.http[0].route[1]); shift its traffic first']);
    assert.deepEqual((await validate(split)).warnings, [V2_AT_ZERO]);
    assert.deepEqual(await replicas(), { 'reviews-v1': 1, 'reviews-v2': 0 });

    await mutate(deployment('shop', 'reviews', 'v2', 3), 'UPDATE', deployment('shop', 'reviews', 'v2', 0));
    assert.deepEqual((await validate(split)).warnings ?? [], []);
    assert.deepEqual(await replicas(), { 'reviews-v1': 1, 'reviews-v2': 3 });

    await mutate(deployment('shop', 'reviews', 'v2', 0), 'UPDATE', deployment('shop', 'reviews', 'v2', 3));
    assert.deepEqual((await validate(split)).warnings, [V2_AT_ZERO]);
    assert.deepEqual(await replicas(), { 'reviews-v1': 1, 'reviews-v2': 0 });
  });

  it('a Deployment that is not opted in backs a subset for both: ready, and the canary may go', async () => {
    const { mutate, guard, validate } = standalone();
    await mutate(deployment('shop', 'reviews', 'v1'));
    await mutate(deployment('shop', 'reviews', 'v2'));
    assert.equal((await validate(split, 'CREATE')).allowed, true);
    const plain = deployment('shop', 'reviews', 'v2');
    plain.metadata.name = 'reviews-v2-plain';
    delete (plain.metadata as { labels?: Record<string, string> }).labels!['canary-webhook/enabled'];
    await mutate(plain);

    const deleted = await guard(deployment('shop', 'reviews', 'v2'));
    assert.equal(deleted.allowed, true, deleted.status?.message);
    assert.deepEqual((await validate(split)).warnings ?? [], []);
    // Its last backer leaving is judged like any other (it is not opted in, so /guard lets it go).
    assert.equal((await guard(plain)).allowed, true);
    assert.deepEqual((await validate(split)).warnings, [NO_V2]);
  });
});

describe('standalone: the record stays bounded', () => {
  it(`holds at most ${MAX_DEPLOYMENTS} Deployments; the oldest admission is forgotten by both features`, async () => {
    const { store, mutate, guard, validate } = standalone();
    await mutate(deployment('shop', 'reviews', 'v2'));
    for (let i = 0; i < MAX_DEPLOYMENTS - 1; i++) store.deployments.upsert(deployment('bulk', `app${i}`, 'v1'), 'bulk');
    assert.equal(store.deployments.size(), MAX_DEPLOYMENTS);
    assert.deepEqual((await validate(allOnV1, 'CREATE')).warnings, ['spec.http[0].route[1]: weight 0; this destination gets no traffic', 'spec.http[0].route[0]: subset "v1" of reviews.shop.svc.cluster.local selects no ready pod (no Deployment matches its labels); traffic sent there gets 503']);

    await mutate(deployment('shop', 'reviews', 'v1'));
    assert.equal(store.deployments.size(), MAX_DEPLOYMENTS);
    assert.deepEqual((await validate(split)).warnings, [NO_V2]);
    // The guard no longer knows reviews-v2 either: deleting v1, now the last backer of 90%, is refused, naming only v1.
    const denied = await guard(deployment('shop', 'reviews', 'v1'));
    assert.equal(denied.allowed, false);
    assert.match(denied.status!.message, /^Deployment shop\/reviews-v1 is the last one backing subset "v1" .* sends it 90% of traffic/);

    // Admitted again, it is the newest: the oldest bulk entry goes instead.
    await mutate(deployment('shop', 'reviews', 'v2'));
    assert.equal(store.deployments.size(), MAX_DEPLOYMENTS);
    assert.deepEqual((await validate(split)).warnings ?? [], []);
    assert.deepEqual(await store.routing.deploymentsIn('bulk').then((list) => list.some((d) => d.metadata.name === 'app0-v1')), false);
  });

  it('a Deployment with 2.5 MiB of pod template labels through /mutate: a clean answer, and it counts', async () => {
    const { store, mutate, validate } = standalone();
    await mutate(deployment('shop', 'reviews', 'v1'));
    const wide = deployment('shop', 'reviews', 'v2');
    const labels = (wide.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    for (let i = 0; i < 40_000; i++) labels[`example.com/label-${i}`] = `value-${'x'.repeat(30)}-${i}`;
    assert.ok(JSON.stringify(wide).length > 2.5 * 1024 * 1024);
    await mutate(wide);
    assert.deepEqual((await validate(split, 'CREATE')).warnings ?? [], []);
    assert.equal(store.deployments.size(), 2);
  });
});

describe('standalone: --seed-dir Deployments count for both features', () => {
  it('a seeded Deployment backs its subset for the guard and the readiness check, and its DELETE is seen by both', async () => {
    const config = parseServeConfig(['--standalone', '--seed-dir', new URL('../examples/seed', import.meta.url).pathname], {});
    const { store, workloads } = await openStore(config, pino({ level: 'silent' }), { destinationRuleWrite: () => {} });
    const { app } = buildApp({ store, settings: config.settings, overrides: { readiness: { reader: workloads, maxReads: 10, timeoutMs: 1_000 } } });
    const post = async (path: string, body: object): Promise<ReviewAnswer['response']> => ((await request(app).post(path).send(body).expect(200)).body as ReviewAnswer).response;
    const toV1 = defaultVirtualService('demo4', 'demo4', [{ subset: 'v1', weight: 100 }]);

    assert.deepEqual((await post('/validate', review(toV1))).warnings ?? [], []);
    // A second v1 Deployment, opted in; the seeded demo4-v1 (not opted in) still backs v1 when it goes.
    const canary = canaryDeployment('demo4-v1-canary', 'v1');
    assert.equal((await post('/mutate', review(canary))).allowed, true);
    const deleted = await post('/guard', review(null, { operation: 'DELETE', oldObject: canary, kind: deploymentKind }));
    assert.equal(deleted.allowed, true, deleted.status?.message);
    assert.deepEqual(deleted.warnings ?? [], []);
    assert.deepEqual((await post('/validate', review(toV1, { operation: 'UPDATE' }))).warnings ?? [], []);

    // The seeded one is not opted in, so /guard does not judge it; once it is gone nothing backs v1.
    const seeded = (await store.routing!.deploymentsIn('default'))[0]!;
    assert.equal(seeded.metadata.name, 'demo4-v1');
    assert.equal((await post('/guard', review(null, { operation: 'DELETE', oldObject: seeded, kind: deploymentKind }))).allowed, true);
    assert.deepEqual((await post('/validate', review(toV1, { operation: 'UPDATE' }))).warnings, [
      'spec.http[0].route[0]: subset "v1" of demo4.default.svc.cluster.local selects no ready pod (no Deployment matches its labels); traffic sent there gets 503',
    ]);
  });
});
