// Shared by the reliability tests and the soak: what a valid AdmissionReview
// envelope is (the same test parseAdmissionReview applies, restated so the
// tests do not trust the code under test) and what a well-formed answer is.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The example AdmissionReviews shipped in examples/reviews, by file name. */
export function exampleReviews(): Array<{ name: string; review: Record<string, unknown> }> {
  const dir = join(repoRoot, 'examples', 'reviews');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ name: file, review: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown> }));
}

const admissionVersions = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The uid and apiVersion of a body that is an AdmissionReview the webhook must answer, else undefined. */
export function envelopeOf(body: unknown): { uid: string; apiVersion: string } | undefined {
  if (!isPlainObject(body) || body.kind !== 'AdmissionReview') return undefined;
  if (typeof body.apiVersion !== 'string' || !admissionVersions.includes(body.apiVersion)) return undefined;
  if (!isPlainObject(body.request)) return undefined;
  const uid = body.request.uid;
  if (typeof uid !== 'string' || uid === '') return undefined;
  return { uid, apiVersion: body.apiVersion };
}

export interface AnswerShape {
  apiVersion: string;
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; reason?: string; message: string };
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
  };
}

/** Asserts the answer is a well-formed AdmissionReview for this envelope; returns the decoded patch. */
export function assertWellFormedAnswer(answer: unknown, envelope: { uid: string; apiVersion: string }, context = ''): unknown[] {
  assert.ok(isPlainObject(answer), `${context}: answer is not an object`);
  const shaped = answer as unknown as AnswerShape;
  assert.equal(shaped.apiVersion, envelope.apiVersion, `${context}: answered in another apiVersion`);
  assert.equal(shaped.kind, 'AdmissionReview', `${context}: answer kind`);
  assert.ok(isPlainObject(shaped.response), `${context}: no response`);
  const response = shaped.response;
  assert.equal(response.uid, envelope.uid, `${context}: uid not echoed`);
  assert.equal(typeof response.allowed, 'boolean', `${context}: allowed is not a boolean`);
  if (!response.allowed) {
    assert.equal(response.status?.code, 403, `${context}: denial without status 403`);
    assert.equal(typeof response.status?.message, 'string', `${context}: denial without a message`);
    assert.ok(response.status.message.length > 0, `${context}: empty denial message`);
    assert.equal(response.patch, undefined, `${context}: a denial carries a patch`);
  }
  if (response.warnings !== undefined) {
    assert.ok(Array.isArray(response.warnings) && response.warnings.every((w) => typeof w === 'string'), `${context}: warnings`);
  }
  if (response.patch === undefined) {
    assert.equal(response.patchType, undefined, `${context}: patchType without a patch`);
    return [];
  }
  assert.equal(response.patchType, 'JSONPatch', `${context}: patchType`);
  const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as unknown;
  assert.ok(Array.isArray(patch) && patch.length > 0, `${context}: patch is not a non-empty JSON Patch list`);
  return patch;
}
