// The canary walkthrough of examples/, over real HTTPS against the standalone server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import type { ReviewAnswer } from './support/app-harness.js';
import { httpsRequest } from './support/https-client.js';
import { startStandalone, type Standalone } from './support/standalone.js';

const example = (file: string): string => readFileSync(new URL(`../examples/reviews/${file}`, import.meta.url), 'utf8');

describe('standalone walkthrough over HTTPS', () => {
  let server: Standalone;
  before(async () => {
    server = await startStandalone(['--seed-dir', new URL('../examples/seed', import.meta.url).pathname]);
  });
  after(async () => {
    await server.started.shutdown();
  });

  const post = async (path: string, file: string): Promise<ReviewAnswer> => {
    const answer = await httpsRequest(`${server.baseUrl}${path}`, { ca: server.ca, body: example(file) });
    assert.equal(answer.status, 200, answer.text);
    return JSON.parse(answer.text) as ReviewAnswer;
  };

  it('starts ready, with the seeded DestinationRule', async () => {
    assert.equal((await httpsRequest(`${server.baseUrl}/readyz`, { ca: server.ca })).status, 200);
    assert.deepEqual(server.started.store.candidatesForHost('demo4.default.svc.cluster.local').map((rule) => rule.spec.subsets?.map((s) => s.name)), [['v1']]);
  });

  it('denies 90/10 before v2 exists, naming the subsets that do', async () => {
    const answer = await post('/validate', 'validate-90-10.json');
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.status?.message, 'spec.http[0].route[1]: subset "v2" of host demo4.default.svc.cluster.local is not defined; DestinationRule default/demo4 defines v1');
  });

  it('mutates demo4-v2 (no template labels at all) and its subset appears in the companion rule, the seeded one untouched', async () => {
    const body = JSON.parse(example('mutate-demo4-v2.json')) as { request: { object: Record<string, unknown> } };
    const answer = await post('/mutate', 'mutate-demo4-v2.json');
    assert.equal(answer.response.allowed, true);
    const patch = JSON.parse(Buffer.from(answer.response.patch ?? '', 'base64').toString('utf8')) as jsonpatch.Operation[];
    const patched = jsonpatch.applyPatch(body.request.object, patch).newDocument as { spec: { template: { metadata: { labels: Record<string, string> } } } };
    assert.deepEqual(patched.spec.template.metadata.labels, { app: 'demo4', version: 'v2', 'sidecar.istio.io/inject': 'true' });
    const [rule, companion] = server.started.store.candidatesForHost('demo4.default.svc.cluster.local');
    assert.deepEqual(rule?.spec.subsets, [{ name: 'v1', labels: { version: 'v1' } }], 'the seeded (user-owned) rule is not written');
    assert.deepEqual(rule?.spec.trafficPolicy, { loadBalancer: { simple: 'LEAST_REQUEST' } });
    assert.equal(companion?.metadata.name, 'demo4-canary-webhook');
    assert.deepEqual(companion?.spec.subsets, [{ name: 'v2', labels: { version: 'v2' } }]);
  });

  it('now allows 90/10, 50/50, 100/0 (with a warning) and the header match', async () => {
    for (const file of ['validate-90-10.json', 'validate-50-50.json', 'validate-header-match.json']) {
      const answer = await post('/validate', file);
      assert.equal(answer.response.allowed, true, file);
      assert.equal(answer.response.warnings, undefined, file);
    }
    const rollback = await post('/validate', 'validate-100-0.json');
    assert.equal(rollback.response.allowed, true);
    assert.equal(rollback.response.warnings?.length, 1);
    assert.match(rollback.response.warnings?.[0] ?? '', /weight 0/);
  });

  it('denies the bad examples with messages a person can act on', async () => {
    const weights = await post('/validate', 'validate-bad-weights-90-5.json');
    assert.equal(weights.response.status?.message, 'spec.http[0].route: weights sum to 95, must be 100');
    const missing = await post('/validate', 'validate-bad-missing-subset-v3.json');
    assert.equal(missing.response.status?.message, 'spec.http[0].route[1]: subset "v3" of host demo4.default.svc.cluster.local is not defined; DestinationRules default/demo4, default/demo4-canary-webhook (merged) define v1, v2');
  });

  it('serves metrics and refuses plain HTTP on the admission port', async () => {
    const metrics = await httpsRequest(`${server.baseUrl}/metrics`, { ca: server.ca });
    assert.match(metrics.text, /canary_webhook_admission_requests_total/);
    const plain = await fetch(`http://127.0.0.1:${server.started.running.port}/validate`, { method: 'POST', body: example('validate-90-10.json') }).then(
      (response) => response.text(),
      (error: Error) => `refused: ${error.message}`,
    );
    assert.doesNotMatch(plain, /AdmissionReview/);
  });
});
