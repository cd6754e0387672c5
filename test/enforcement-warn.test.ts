// Enforcement per namespace (SPEC §11): `<path>/warn` admits what `<path>`
// would deny, with the denial's text as warnings, and counts it apart.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import request from 'supertest';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { buildApp, decodePatch, review, type ReviewAnswer } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger, rule, settings } from './support/kube-fixtures.js';
import { canaryDeployment, destinationRule, virtualService } from './support/objects.js';

const seed = [destinationRule('default', 'demo4', 'demo4.default.svc.cluster.local', ['v1', 'v2'])];

async function metricValue(app: ReturnType<typeof buildApp>['app'], series: string): Promise<number | undefined> {
  const text = (await request(app).get('/metrics').expect(200)).text;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('warn mode: POST /validate/warn', () => {
  const badRoute = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v3', weight: 5 }]);

  it('admits what /validate denies, every problem of the denial as a warning, and counts it as warned', async () => {
    const { app } = buildApp({ seed });
    const enforced = (await request(app).post('/validate').send(review(badRoute)).expect(200)).body as ReviewAnswer;
    assert.equal(enforced.response.allowed, false);
    const problems = (enforced.response.status?.message ?? '').split('\n');
    assert.equal(problems.length, 2, 'the sum and the missing subset');

    const warned = (await request(app).post('/validate/warn').send(review(badRoute)).expect(200)).body as ReviewAnswer;
    assert.equal(warned.response.allowed, true);
    assert.equal(warned.response.status, undefined);
    // Each problem of the denial, as a warning (clipped to kubectl's 120 characters).
    problems.forEach((line, i) => assert.ok(warned.response.warnings?.[i]?.startsWith(`would be denied: ${line.slice(0, 80)}`), `${line}\n${warned.response.warnings?.[i]}`));
    assert.match(warned.response.warnings?.[0] ?? '', /^would be denied: spec\.http\[0\]\.route: weights sum to 95, must be 100$/);
    for (const warning of warned.response.warnings ?? []) assert.ok(warning.length < 120, warning);

    assert.equal(await metricValue(app, 'canary_webhook_admission_requests_total{webhook="validate",operation="CREATE",result="warned"}'), 1);
    assert.equal(await metricValue(app, 'canary_webhook_admission_requests_total{webhook="validate",operation="CREATE",result="denied"}'), 1, 'the enforced one');
  });

  it('answers an acceptable object exactly as /validate does', async () => {
    const { app } = buildApp({ seed });
    const good = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]);
    const enforced = (await request(app).post('/validate').send(review(good)).expect(200)).body as ReviewAnswer;
    const warned = (await request(app).post('/validate/warn').send(review(good)).expect(200)).body as ReviewAnswer;
    assert.deepEqual({ ...warned.response, uid: '' }, { ...enforced.response, uid: '' });
    assert.equal(await metricValue(app, 'canary_webhook_admission_requests_total{webhook="validate",operation="CREATE",result="warned"}'), undefined);
  });

  it('caps a denial of many problems at a few warning lines', async () => {
    const { app } = buildApp({ seed });
    const many = virtualService('demo4', 'demo4', Array.from({ length: 40 }, (_, i) => ({ subset: `missing-${i}`, weight: 1 })));
    const warned = (await request(app).post('/validate/warn').send(review(many)).expect(200)).body as ReviewAnswer;
    assert.equal(warned.response.allowed, true);
    const denialLines = (warned.response.warnings ?? []).filter((warning) => warning.startsWith('would be denied: '));
    assert.equal(denialLines.length, 11);
    assert.match(denialLines.at(-1) ?? '', /^would be denied: \.\.\. and \d+ more$/);
  });
});

describe('warn mode: POST /mutate/warn', () => {
  it('admits a Deployment /mutate denies, unchanged, with the reason as a warning', async () => {
    const { app } = buildApp({ seed });
    const conflicting = canaryDeployment('demo4-v2', 'v2');
    (conflicting.metadata as { annotations?: Record<string, string> }).annotations = { 'canary-webhook/version': 'v9' };
    const enforced = (await request(app).post('/mutate').send(review(conflicting)).expect(200)).body as ReviewAnswer;
    assert.equal(enforced.response.allowed, false);
    const warned = (await request(app).post('/mutate/warn').send(review(conflicting)).expect(200)).body as ReviewAnswer;
    assert.equal(warned.response.allowed, true);
    assert.equal(warned.response.patch, undefined, 'no mutated object exists to patch towards');
    assert.match(warned.response.warnings?.[0] ?? '', /^would be denied: .*v2.*v9|^would be denied: .*v9.*v2/);
    assert.equal(await metricValue(app, 'canary_webhook_admission_requests_total{webhook="mutate",operation="CREATE",result="warned"}'), 1);
  });

  it('patches and writes the subset as /mutate does when nothing is wrong', async () => {
    const { app, deps } = buildApp({ seed });
    const answer = (await request(app).post('/mutate/warn').send(review(canaryDeployment('demo4-v3', 'v3'))).expect(200)).body as ReviewAnswer;
    assert.equal(answer.response.allowed, true);
    assert.ok(decodePatch(answer).length > 0);
    // In the seeded rule or in the companion next to it: either way Istio sees it.
    const subsets = deps.store.candidatesForHost('demo4.default.svc.cluster.local').flatMap((rule) => rule.spec.subsets?.map((s) => s.name) ?? []);
    assert.ok(subsets.includes('v3'), subsets.join(', '));
  });
});

describe('warn mode with the Kubernetes store', () => {
  let api: FakeApiServer;
  let store: KubeStore;
  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    api.put('destinationrules', rule('default', 'demo4', 'demo4', ['v1']) as never);
    store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings, logger: memoryLogger('fatal').logger });
    assert.equal(await store.waitForSync(5_000), true);
  });
  afterEach(async () => {
    await store.close();
    await api.stop();
  });

  it('keeps the patch when only the subset write failed: the Deployment is admitted as if it had worked', async () => {
    const { app } = buildApp({ store, overrides: { subsetWriteTimeoutMs: 300 } });
    api.failNext({ method: 'PATCH', path: '/destinationrules/', status: 500, count: 1_000 });
    const deployment = canaryDeployment('demo4-v2', 'v2');
    const enforced = (await request(app).post('/mutate').send(review(deployment)).expect(200)).body as ReviewAnswer;
    assert.equal(enforced.response.allowed, false);
    assert.match(enforced.response.status?.message ?? '', /could not add subset "v2"/);

    const warned = (await request(app).post('/mutate/warn').send(review(deployment)).expect(200)).body as ReviewAnswer;
    assert.equal(warned.response.allowed, true);
    assert.match(warned.response.warnings?.[0] ?? '', /^would be denied: could not add subset "v2"/);
    const patched = jsonpatch.applyPatch(structuredClone(deployment), decodePatch(warned) as jsonpatch.Operation[]).newDocument;
    assert.equal((patched.metadata as { labels: Record<string, string> }).labels.version, 'v2');
  });
});
