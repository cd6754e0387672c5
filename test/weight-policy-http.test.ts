// --weight-policy as a user of /validate sees it (SPEC §3): the answer the
// API server would relay to kubectl, under both policies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import type { WeightPolicy } from '../src/rules/types.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { destinationRule, virtualService } from './support/objects.js';

const seed = [destinationRule('default', 'reviews', 'reviews', ['v1', 'v2'])];

async function validate(weightPolicy: WeightPolicy, weights: [unknown, unknown]): Promise<ReviewAnswer['response']> {
  const { app } = buildApp({ seed, settings: { weightPolicy } });
  const vs = virtualService('reviews', 'reviews', [{ subset: 'v1', weight: weights[0] }, { subset: 'v2', weight: weights[1] }]);
  const response = await request(app).post('/validate').send(review(vs)).expect(200);
  return (response.body as ReviewAnswer).response;
}

describe('POST /validate under --weight-policy=proportional', () => {
  it('allows 30/30 with a warning that gives the sum', async () => {
    const answer = await validate('proportional', [30, 30]);
    assert.equal(answer.allowed, true);
    assert.deepEqual(answer.warnings, ['spec.http[0].route: weights sum to 60, not 100; each destination gets weight/60 of traffic']);
  });

  it('denies 0/0: Istio refuses it', async () => {
    const answer = await validate('proportional', [0, 0]);
    assert.equal(answer.allowed, false);
    assert.equal(answer.status?.code, 403);
    assert.equal(answer.status?.message, 'spec.http[0].route: weights sum to 0; Istio refuses a route whose destinations all have weight 0');
  });

  it('denies two destinations without a weight, and says none has one', async () => {
    const answer = await validate('proportional', [undefined, undefined]);
    assert.equal(answer.allowed, false);
    assert.equal(
      answer.status?.message,
      'spec.http[0].route: weights sum to 0; Istio refuses a route whose destinations all have weight 0; no destination of this route has a weight',
    );
  });

  it('still denies a weight past uint32', async () => {
    const answer = await validate('proportional', [2 ** 32, 1]);
    assert.equal(answer.status?.message, 'spec.http[0].route[0].weight: 4294967296 is more than 4294967295');
  });
});

describe('POST /validate under the default sum-100', () => {
  it('is unchanged: 30/30 denied with the sum, 90/10 allowed silently', async () => {
    const denied = await validate('sum-100', [30, 30]);
    assert.equal(denied.allowed, false);
    assert.equal(denied.status?.message, 'spec.http[0].route: weights sum to 60, must be 100');
    const allowed = await validate('sum-100', [90, 10]);
    assert.equal(allowed.allowed, true);
    assert.equal(allowed.warnings, undefined);
  });

  it('says so when no destination has a weight (a misplaced weight the API server pruned)', async () => {
    const answer = await validate('sum-100', [undefined, undefined]);
    assert.equal(answer.status?.message, 'spec.http[0].route: weights sum to 0, must be 100; no destination of this route has a weight');
  });
});
