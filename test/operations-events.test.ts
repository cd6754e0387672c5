// What an operator sees (SPEC §6): the review log line says why, each
// DestinationRule write is logged, and each write leaves a Kubernetes Event
// on the DestinationRule that names the Deployment.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import request from 'supertest';
import { parseServeConfig } from '../src/config.js';
import { createMetrics } from '../src/server/metrics.js';
import { openStore } from '../src/server/open-store.js';
import { DestinationRuleEvents, describeWrite } from '../src/store/kube/events.js';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger, rule, settings, waitFor } from './support/kube-fixtures.js';
import { canaryDeployment, destinationRule, virtualService } from './support/objects.js';

interface StoredEvent {
  metadata: { name: string; namespace: string };
  involvedObject: { apiVersion?: string; kind: string; name: string; namespace: string; uid?: string };
  reason: string;
  message: string;
  type: string;
  source?: { component?: string };
}

describe('the review log line', () => {
  it('says why a review was denied (clipped) and how many warnings it carried', async () => {
    const { logger, lines } = memoryLogger('info');
    const { app } = buildApp({ seed: [destinationRule('default', 'demo4', 'demo4.default.svc.cluster.local', ['v1'])], overrides: { logger } });
    const bad = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v1', weight: 5 }, { subset: 'v3', weight: 0 }]);
    const answer = (await request(app).post('/validate').send(review(bad, { namespace: 'default' })).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, false);
    const line = lines.find((entry) => entry.msg === 'review');
    assert.ok(line, 'a review line');
    assert.equal(line.allowed, false);
    assert.equal(line.object, 'default/demo4');
    // Every problem, on one line: what kubectl showed the user.
    assert.equal(line.reason, answer.response.status?.message.replace(/\n/g, '; '));
    assert.equal(line.warnings, answer.response.warnings?.length);
    assert.ok((line.warnings as number) >= 1);
  });

  it('clips the reason, so one review cannot write a huge log line, and leaves it out when allowed', async () => {
    const { logger, lines } = memoryLogger('info');
    const { app } = buildApp({ overrides: { logger } });
    const many = virtualService('x'.repeat(60), 'demo4', Array.from({ length: 200 }, (_, i) => ({ subset: `s${i}`, weight: 1, host: `h${i}-${'y'.repeat(50)}` })));
    await request(app).post('/validate').send(review(many)).expect(200);
    const denied = lines.find((entry) => entry.msg === 'review');
    assert.ok(typeof denied?.reason === 'string' && denied.reason.length <= 512, String(denied?.reason).length.toString());
    assert.ok(JSON.stringify(denied).length < 2_000);
    await request(app).post('/validate').send(review(virtualService('ok', 'ok', [{ weight: 100 }]))).expect(200);
    const allowed = lines.filter((entry) => entry.msg === 'review').at(-1);
    assert.equal(allowed?.allowed, true);
    assert.equal('reason' in (allowed ?? {}), false);
  });

  it('marks a warn-mode review and still gives the reason it would have been denied for', async () => {
    const { logger, lines } = memoryLogger('info');
    const { app } = buildApp({ overrides: { logger } });
    await request(app).post('/validate/warn').send(review(virtualService('web', 'web', [{ weight: 60 }, { weight: 60 }]))).expect(200);
    const line = lines.find((entry) => entry.msg === 'review');
    assert.deepEqual([line?.allowed, line?.enforcement], [true, 'warn']);
    assert.match(String(line?.reason), /weights sum to 120, must be 100/);
  });
});

describe('DestinationRule writes: log lines and Kubernetes Events', () => {
  let api: FakeApiServer;
  let store: KubeStore;
  let events: DestinationRuleEvents;
  let logged: ReturnType<typeof memoryLogger>;

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    api.put('destinationrules', rule('shop', 'demo4', 'demo4', ['v1']) as never);
    logged = memoryLogger('info');
    events = new DestinationRuleEvents({ kubeConfig: api.kubeConfig(), logger: logged.logger, instance: 'canary-webhook-7d4f-abcde' });
    store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings, logger: logged.logger, onWritten: (written) => events.record(written) });
    assert.equal(await store.waitForSync(5_000), true);
  });
  afterEach(async () => {
    events.close();
    await store.close();
    await api.stop();
  });

  const storedEvents = (): StoredEvent[] => api.events as unknown as StoredEvent[];

  it('records DestinationRuleCreated naming the Deployment when the rule is created, and logs the write', async () => {
    const { app } = buildApp({ store });
    const answer = (await request(app).post('/mutate').send(review(canaryDeployment('cart-v1', 'v1', { app: 'cart' }), { namespace: 'shop' })).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true);
    await events.idle();
    const created = api.objects.get('destinationrules', 'shop', 'cart') as unknown as { metadata: { uid?: string } };
    assert.ok(created);
    assert.equal(storedEvents().length, 1);
    const [event] = storedEvents();
    assert.equal(event?.reason, 'DestinationRuleCreated');
    assert.equal(event?.type, 'Normal');
    assert.equal(event?.message, 'Created by canary-webhook with subset v1 for Deployment cart-v1');
    assert.deepEqual(
      { kind: event?.involvedObject.kind, name: event?.involvedObject.name, namespace: event?.involvedObject.namespace, apiVersion: event?.involvedObject.apiVersion },
      { kind: 'DestinationRule', name: 'cart', namespace: 'shop', apiVersion: 'networking.istio.io/v1' },
    );
    assert.equal(event?.metadata.namespace, 'shop');
    assert.equal(event?.source?.component, 'canary-webhook');
    const writeLine = logged.lines.find((line) => line.msg === 'DestinationRule subsets written');
    assert.deepEqual([writeLine?.destinationRule, writeLine?.subsets, writeLine?.deployments], ['shop/cart', ['v1'], ['cart-v1']]);
  });

  it('records SubsetAdded on the managed rule when a subset is appended, one Event per write', async () => {
    const { app } = buildApp({ store });
    // demo4 carries no managed-by label: the webhook creates its companion rule, then appends to it.
    await request(app).post('/mutate').send(review(canaryDeployment('demo4-v2', 'v2'), { namespace: 'shop' })).expect(200);
    await request(app).post('/mutate').send(review(canaryDeployment('demo4-v3', 'v3'), { namespace: 'shop' })).expect(200);
    // Re-admitting an existing version writes nothing, so records nothing.
    await request(app).post('/mutate').send(review(canaryDeployment('demo4-v3', 'v3'), { namespace: 'shop' })).expect(200);
    await events.idle();
    const written = api.requests.filter((r) => (r.method === 'POST' || r.method === 'PATCH') && r.path.includes('/destinationrules')).length;
    assert.equal(storedEvents().length, written, 'one Event per DestinationRule write');
    const last = storedEvents().at(-1);
    assert.equal(last?.reason, 'SubsetAdded');
    assert.equal(last?.message, 'Added subset v3 for Deployment demo4-v3');
    const target = last?.involvedObject.name ?? '';
    const stored = api.objects.get('destinationrules', 'shop', target) as unknown as { spec: { subsets: Array<{ name: string }> } } | undefined;
    assert.ok(stored?.spec.subsets.some((subset) => subset.name === 'v3'), `the Event is on the rule that holds v3 (${target})`);
    assert.equal(logged.lines.filter((line) => line.msg === 'DestinationRule subsets written').length, written);
  });

  it('is best effort: a refused Event (no RBAC) neither fails nor changes the review, and is logged', async () => {
    const { app } = buildApp({ store });
    api.failNext({ method: 'POST', path: '/events', status: 403, count: 5 });
    const answer = (await request(app).post('/mutate').send(review(canaryDeployment('demo4-v2', 'v2'), { namespace: 'shop' })).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.warnings, undefined);
    await events.idle();
    assert.equal(storedEvents().length, 0);
    await waitFor('the warning', () => logged.lines.find((line) => line.msg === 'could not record Kubernetes Event'));
    assert.match(String(logged.lines.find((line) => line.msg === 'could not record Kubernetes Event')?.err), /403/);
  });

  it('is bounded: Events beyond the in-flight cap are dropped, not queued', async () => {
    const capped = new DestinationRuleEvents({ kubeConfig: api.kubeConfig(), logger: logged.logger, maxInFlight: 2 });
    api.latencyMs = 50;
    const written = { action: 'appended' as const, destinationRule: rule('shop', 'demo4', 'demo4', ['v1']), subsets: ['v9'], deployments: ['demo4-v9'] };
    for (let i = 0; i < 5; i++) capped.record(written);
    await capped.idle();
    assert.equal(storedEvents().length, 2);
    assert.equal(logged.lines.filter((line) => line.msg === 'Kubernetes Event dropped: too many still being posted').length, 3);
  });
});

describe('standalone mode', () => {
  it('logs each DestinationRule write with the Deployment, as the Kubernetes store does', async () => {
    const { logger, lines } = memoryLogger('info');
    const config = parseServeConfig(['--standalone'], {});
    const metrics = createMetrics({ size: () => 0 }, { processMetrics: false });
    const { store } = await openStore(config, logger, metrics);
    const { app } = buildApp({ store });
    await request(app).post('/mutate').send(review(canaryDeployment('shop-v1', 'v1', { app: 'shop' }))).expect(200);
    await request(app).post('/mutate').send(review(canaryDeployment('shop-v2', 'v2', { app: 'shop' }))).expect(200);
    const writes = lines.filter((line) => line.msg === 'DestinationRule subsets written');
    assert.deepEqual(writes.map((line) => [line.destinationRule, line.subsets, line.deployments, line.verb]), [
      ['default/shop', ['v1'], ['shop-v1'], 'creating'],
      ['default/shop', ['v2'], ['shop-v2'], 'patching'],
    ]);
  });
});

describe('the Event message', () => {
  it('names every subset and Deployment of a grouped write', () => {
    const destination = rule('shop', 'cart', 'cart');
    assert.equal(describeWrite({ action: 'appended', destinationRule: destination, subsets: ['v2', 'v3'], deployments: ['cart-v2', 'cart-v3'] }), 'Added subsets v2, v3 for Deployments cart-v2, cart-v3');
    assert.equal(describeWrite({ action: 'created', destinationRule: destination, subsets: ['v1'], deployments: [] }), 'Created by canary-webhook with subset v1');
  });
});
