// SPEC §10 without a cluster: standalone (Deployments admitted through
// /mutate stand for pods) and offline `check` (Deployments in the input).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { runCheck } from '../src/cli/check.js';
import { defaultRuleSettings } from '../src/rules/types.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { MemoryWorkloads } from '../src/store/memory-workloads.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { runCaptured } from './support/cli-run.js';
import { canaryDeployment, destinationRule, virtualService } from './support/objects.js';

const split = virtualService('reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]);

describe('readiness in standalone mode (through createApp)', () => {
  it('warns for a version never deployed, and stops once its Deployment is admitted', async () => {
    const store = new MemoryStore(defaultRuleSettings, [destinationRule('default', 'reviews', 'reviews', ['v1', 'v2'])]);
    const { app } = buildApp({ store, overrides: { readiness: { reader: new MemoryWorkloads(store.deployments), maxReads: 10, timeoutMs: 1_000 } } });
    const post = async (path: string, body: object): Promise<ReviewAnswer['response']> => ((await request(app).post(path).send(body).expect(200)).body as ReviewAnswer).response;

    assert.equal((await post('/mutate', review(canaryDeployment('reviews-v1', 'v1', { app: 'reviews' })))).allowed, true);
    const before = await post('/validate', review(split));
    assert.equal(before.allowed, true);
    assert.deepEqual(before.warnings, ['spec.http[0].route[1]: subset "v2" of reviews.default.svc.cluster.local selects no ready pod (no Deployment matches its labels); traffic sent there gets 503']);

    // A dry run creates nothing: still no v2.
    await post('/mutate', review(canaryDeployment('reviews-v2', 'v2', { app: 'reviews' }), { dryRun: true }));
    assert.equal((await post('/validate', review(split))).warnings?.length, 1);

    await post('/mutate', review(canaryDeployment('reviews-v2', 'v2', { app: 'reviews' })));
    assert.deepEqual((await post('/validate', review(split))).warnings ?? [], []);
  });
});

describe('readiness in offline check', () => {
  const yaml = (objects: unknown[]): string => objects.map((object) => JSON.stringify(object)).join('\n---\n');
  const run = async (objects: unknown[]): Promise<{ code: number; stdout: string }> => {
    const dir = mkdtempSync(join(tmpdir(), 'ready-check-'));
    writeFileSync(join(dir, 'all.yaml'), yaml(objects));
    const { code, stdout } = await runCaptured(runCheck, ['-f', 'all.yaml'], { cwd: dir });
    return { code, stdout };
  };
  const dr = { ...destinationRule('default', 'reviews', 'reviews', ['v1', 'v2']) };
  const v1 = canaryDeployment('reviews-v1', 'v1', { app: 'reviews' });

  it('a Deployment of the service in the input turns the check on; the missing version is a warning, exit 0', async () => {
    const { code, stdout } = await run([dr, v1, split]);
    assert.equal(code, 0);
    assert.match(stdout, /warning: VirtualService default\/reviews: spec\.http\[0\]\.route\[1\]: subset "v2" of reviews\.default\.svc\.cluster\.local selects no ready pod \(no Deployment matches its labels\); traffic sent there gets 503/);
    const both = await run([dr, v1, canaryDeployment('reviews-v2', 'v2', { app: 'reviews' }), split]);
    assert.doesNotMatch(both.stdout, /no ready pod/);
  });

  it('no Deployment of that service in the input: not judged', async () => {
    const other = canaryDeployment('ratings-v1', 'v1', { app: 'ratings' });
    assert.doesNotMatch((await run([dr, split])).stdout, /no ready pod/);
    assert.doesNotMatch((await run([dr, other, split])).stdout, /no ready pod/);
  });

  it('a Deployment scaled to 0 is not ready', async () => {
    const v2 = canaryDeployment('reviews-v2', 'v2', { app: 'reviews' });
    (v2.spec as { replicas: number }).replicas = 0;
    assert.match((await run([dr, v1, v2, split])).stdout, /selects no ready pod \(1 matching Deployment, scaled to 0\)/);
  });
});
