// Standalone mode reads Namespace objects from --seed-dir (SPEC §2): the
// answer a user sees over HTTP for a canary Deployment in an ambient
// namespace, and in a namespace the seed does not know.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { pino } from 'pino';
import request from 'supertest';
import { parseServeConfig } from '../src/config.js';
import { openStore } from '../src/server/open-store.js';
import { buildApp, decodePatch, review, type ReviewAnswer } from './support/app-harness.js';
import { INJECT, at, reviewsDeployment } from './support/deployments.js';

async function seededApp(manifests: string, extraArgs: string[] = []) {
  const seedDir = mkdtempSync(join(tmpdir(), 'canary-webhook-seed-'));
  writeFileSync(join(seedDir, 'namespaces.yaml'), manifests);
  const config = parseServeConfig(['--standalone', '--seed-dir', seedDir, ...extraArgs], {});
  const { store } = await openStore(config, pino({ level: 'silent' }), { destinationRuleWrite: () => {} });
  return buildApp({ store, settings: config.settings });
}

const namespaces = `
apiVersion: v1
kind: Namespace
metadata:
  name: mesh-ambient
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: Namespace
metadata:
  name: mesh-rev
  labels:
    istio.io/rev: stable
`;

async function mutate(app: ReturnType<typeof buildApp>['app'], namespace: string) {
  const deployment = reviewsDeployment();
  const answer = (await request(app).post('/mutate').send(review(deployment, { namespace })).expect(200)).body as ReviewAnswer;
  assert.equal(answer.response.allowed, true);
  const stored = jsonpatch.applyPatch(structuredClone(deployment), decodePatch(answer) as Operation[], true).newDocument;
  return { answer, template: at(stored, 'spec', 'template', 'metadata') as Record<string, unknown> };
}

describe('namespace labels from --seed-dir over HTTP', () => {
  it('ambient: the Deployment gets its version labels but no sidecar label or annotation, and a warning about waypoints', async () => {
    const { app } = await seededApp(namespaces);
    const { answer, template } = await mutate(app, 'mesh-ambient');
    assert.deepEqual(template, { labels: { app: 'reviews', version: 'v2' } });
    assert.deepEqual(answer.response.warnings, [
      'namespace "mesh-ambient" is ambient: no sidecar added for version "v2"; subset routing in ambient needs a waypoint',
    ]);
  });

  it('a namespace the seed does not know reads as unlabelled: today\'s label and annotation', async () => {
    const { app } = await seededApp(namespaces);
    const { answer, template } = await mutate(app, 'elsewhere');
    assert.deepEqual(template, { labels: { app: 'reviews', version: 'v2', [INJECT]: 'true' }, annotations: { [INJECT]: 'true' } });
    assert.deepEqual(answer.response.warnings ?? [], []);
  });

  it('--istio-revision: istio.io/rev on the template, except where the namespace already names a revision', async () => {
    const { app } = await seededApp(namespaces, ['--istio-revision', '1-24-0']);
    assert.deepEqual((await mutate(app, 'elsewhere')).template, { labels: { app: 'reviews', version: 'v2', 'istio.io/rev': '1-24-0' } });
    assert.deepEqual((await mutate(app, 'mesh-rev')).template, { labels: { app: 'reviews', version: 'v2' } });
  });
});
