// The AdmissionReview protocol and bad input over the HTTP layer (SPEC §5).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import request from 'supertest';
import { buildApp, decodePatch, review, type ReviewAnswer } from './support/app-harness.js';
import { canaryDeployment, destinationRule, virtualService } from './support/objects.js';

const seed = [destinationRule('default', 'demo4', 'demo4', ['v1', 'v2'])];

async function post(app: ReturnType<typeof buildApp>['app'], path: string, body: unknown): Promise<ReviewAnswer> {
  const response = await request(app).post(path).send(body as object).expect(200).expect('content-type', /json/);
  return response.body as ReviewAnswer;
}

describe('AdmissionReview protocol', () => {
  it('answers v1 in v1 and v1beta1 in v1beta1, echoing the uid', async () => {
    const { app } = buildApp({ seed });
    for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
      const body = review(virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]), { apiVersion });
      const answer = await post(app, '/validate', body);
      assert.equal(answer.apiVersion, apiVersion);
      assert.equal(answer.kind, 'AdmissionReview');
      assert.equal(answer.response.uid, (body.request as { uid: string }).uid);
      assert.equal(answer.response.allowed, true);
    }
  });

  it('returns a base64 JSONPatch that turns the Deployment into a canary one', async () => {
    const { app } = buildApp({ seed });
    const deployment = canaryDeployment('demo4-v2', 'v2');
    const answer = await post(app, '/mutate', review(deployment));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    const patched = jsonpatch.applyPatch(structuredClone(deployment), decodePatch(answer) as jsonpatch.Operation[]).newDocument as ReturnType<typeof canaryDeployment>;
    const template = (patched.spec as { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } } }).template;
    assert.equal(template.metadata.labels['sidecar.istio.io/inject'], 'true');
    assert.equal(template.metadata.annotations['sidecar.istio.io/inject'], 'true');
    assert.deepEqual((patched.spec as { selector: unknown }).selector, { matchLabels: { app: 'demo4', version: 'v2' } });
    assert.equal((patched.metadata as { labels: Record<string, string> }).labels.version, 'v2');

    const again = await post(app, '/mutate', review(patched));
    assert.equal(again.response.allowed, true);
    assert.equal(again.response.patch, undefined, 're-applying the webhook changes nothing');
  });

  it('denies with 403 and every problem prefixed by its path', async () => {
    const { app } = buildApp({ seed });
    const vs = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v3', weight: 5 }]);
    const answer = await post(app, '/validate', review(vs));
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.status?.code, 403);
    assert.match(answer.response.status?.message ?? '', /spec\.http\[0\]\.route: weights sum to 95, must be 100/);
    assert.match(answer.response.status?.message ?? '', /spec\.http\[0\]\.route\[1\]: subset "v3" of host demo4\.default\.svc\.cluster\.local is not defined; DestinationRule default\/demo4 defines v1, v2/);
  });

  it('takes the namespace from request.namespace when the object has none', async () => {
    const { app } = buildApp({ seed: [destinationRule('prod', 'demo4', 'demo4', ['v1', 'v2'])] });
    const vs = virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]);
    assert.equal((await post(app, '/validate', review(vs, { namespace: 'prod' }))).response.allowed, true);
    assert.equal((await post(app, '/validate', review(vs, { namespace: 'default' }))).response.allowed, false);
  });

  it('allows kinds and resources an endpoint does not handle, unchanged', async () => {
    const { app } = buildApp({ seed });
    const deployment = canaryDeployment('demo4-v2', 'v2');
    const toValidate = await post(app, '/validate', review(deployment));
    assert.deepEqual([toValidate.response.allowed, toValidate.response.patch], [true, undefined]);
    const vsToMutate = await post(app, '/mutate', review(virtualService('x', 'x', [{ weight: 5 }, { weight: 5 }])));
    assert.deepEqual([vsToMutate.response.allowed, vsToMutate.response.patch], [true, undefined]);
    const scale = await post(app, '/mutate', { ...review(deployment), request: { ...(review(deployment).request as object), subResource: 'scale' } });
    assert.deepEqual([scale.response.allowed, scale.response.patch], [true, undefined]);
    const deleted = await post(app, '/mutate', review(null, { operation: 'DELETE', kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }));
    assert.equal(deleted.response.allowed, true);
  });

  it('never mutates when request.kind and request.object.kind disagree', async () => {
    const { app } = buildApp({ seed });
    const disguised = { ...canaryDeployment('demo4-v2', 'v2'), kind: 'StatefulSet' };
    const answer = await post(app, '/mutate', review(disguised, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
  });

  it('leaves Deployments without the opt-in label alone', async () => {
    const { app, deps } = buildApp({ seed });
    const plain = canaryDeployment('other', 'v9');
    delete ((plain.metadata as { labels: Record<string, string> }).labels)['canary-webhook/enabled'];
    const answer = await post(app, '/mutate', review(plain));
    assert.deepEqual([answer.response.allowed, answer.response.patch], [true, undefined]);
    assert.equal(deps.store.candidatesForHost('demo4.default.svc.cluster.local')[0]?.spec.subsets?.length, 2);
  });
});

describe('bad input', () => {
  it('answers 400 with a clear text for a body that is not JSON', async () => {
    const { app } = buildApp();
    const response = await request(app).post('/validate').set('content-type', 'application/json').send('{"kind": "AdmissionRev').expect(400);
    assert.match(response.text, /not valid JSON/);
  });

  it('answers 400 for JSON that is not an AdmissionReview, or has no request', async () => {
    const { app } = buildApp();
    assert.match((await request(app).post('/mutate').send({ hello: 'world' }).expect(400)).text, /not an AdmissionReview/);
    assert.match((await request(app).post('/mutate').send([1, 2]).expect(400)).text, /not an AdmissionReview/);
    assert.match((await request(app).post('/mutate').send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }).expect(400)).text, /no request/);
    assert.match((await request(app).post('/mutate').send({ apiVersion: 'admission.k8s.io/v2', kind: 'AdmissionReview', request: { uid: 'x' } }).expect(400)).text, /apiVersion/);
    assert.match((await request(app).post('/mutate').set('content-type', 'text/plain').send('').expect(400)).text, /empty body/);
  });

  it('accepts JSON sent as curl -d does (form content type)', async () => {
    const { app } = buildApp({ seed });
    const body = JSON.stringify(review(virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 100 }])));
    const response = await request(app).post('/validate').set('content-type', 'application/x-www-form-urlencoded').send(body).expect(200);
    assert.equal((response.body as ReviewAnswer).response.allowed, true);
  });

  it('answers 413 for a 20 MiB body', async () => {
    const { app } = buildApp();
    const huge = JSON.stringify(review({ kind: 'VirtualService', padding: 'x'.repeat(20 * 1024 * 1024) }));
    const response = await request(app).post('/validate').set('content-type', 'application/json').send(huge);
    assert.equal(response.status, 413);
    assert.match(response.text, /over the 10485760-byte limit/);
  });

  it('denies cleanly when request.object is null or malformed', async () => {
    const { app } = buildApp({ seed });
    const nullDeployment = await post(app, '/mutate', review(null, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }));
    assert.equal(nullDeployment.response.allowed, false);
    assert.match(nullDeployment.response.status?.message ?? '', /request\.object/);
    const nullVs = await post(app, '/validate', review(null));
    assert.equal(nullVs.response.allowed, false);
    const notAList = await post(app, '/validate', review({ kind: 'VirtualService', metadata: { name: 'x' }, spec: { hosts: ['x'], http: { route: [] } } }));
    assert.equal(notAList.response.allowed, false);
    assert.match(notAList.response.status?.message ?? '', /spec\.http/);
    const stringWeights = await post(app, '/validate', review(virtualService('demo4', 'demo4', [{ subset: 'v1', weight: '90' }, { subset: 'v2', weight: '10' }])));
    assert.equal(stringWeights.response.allowed, false);
    assert.match(stringWeights.response.status?.message ?? '', /spec\.http\[0\]\.route\[0\]\.weight/);
  });

  it('answers 404 with the routes for unknown paths', async () => {
    const { app } = buildApp();
    assert.match((await request(app).get('/nope').expect(404)).text, /POST \/mutate/);
  });
});

describe('health, readiness and metrics', () => {
  it('is alive and ready with a synced store, not ready while shutting down', async () => {
    let shuttingDown = false;
    const { app } = buildApp({ overrides: { isShuttingDown: () => shuttingDown } });
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(200);
    shuttingDown = true;
    await request(app).get('/readyz').expect(503);
    await request(app).get('/healthz').expect(200);
  });

  it('counts reviews by webhook, operation and result, and DestinationRule writes', async () => {
    const { app } = buildApp({ seed });
    await post(app, '/mutate', review(canaryDeployment('demo4-v3', 'v3')));
    await post(app, '/validate', review(virtualService('demo4', 'demo4', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 5 }])));
    const text = (await request(app).get('/metrics').expect(200)).text;
    assert.match(text, /canary_webhook_admission_requests_total\{webhook="mutate",operation="CREATE",result="patched"\} 1/);
    assert.match(text, /canary_webhook_admission_requests_total\{webhook="validate",operation="CREATE",result="denied"\} 1/);
    // The seeded demo4 rule is user-owned: v3 goes into a new companion rule beside it.
    assert.match(text, /canary_webhook_subset_ensure_total\{outcome="created"\} 1/);
    assert.match(text, /canary_webhook_destinationrule_cache_size 2/);
    assert.match(text, /canary_webhook_admission_duration_seconds_bucket\{le="0.005",webhook="mutate"\}/);
  });
});
