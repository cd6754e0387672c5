// examples/reviews/*.json are what the API server would send for examples/manifests/*.yaml.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateReviews, reviewsDir } from '../examples/generate-reviews.js';

describe('example AdmissionReviews', () => {
  it('match their manifests (regenerate with node --import tsx examples/generate-reviews.ts)', () => {
    const expected = generateReviews();
    assert.deepEqual(readdirSync(reviewsDir).filter((file) => file.endsWith('.json')).sort(), [...expected.keys()].sort());
    for (const [file, body] of expected) assert.equal(readFileSync(join(reviewsDir, file), 'utf8'), body, file);
  });
});
