// One implementation of each rule: for every example, `canary-webhook check`
// reaches the verdict, problems and warnings the webhook answers over HTTP.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import request from 'supertest';
import { parse, parseAllDocuments } from 'yaml';
import { runCheck } from '../src/cli/check.js';
import type { Finding } from '../src/cli/findings.js';
import { runInject } from '../src/cli/inject.js';
import { defaultRuleSettings, type DestinationRule, type RuleSettings } from '../src/rules/types.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { buildApp, decodePatch, review, type ReviewAnswer } from './support/app-harness.js';
import { runCaptured } from './support/cli-run.js';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
const seedFile = 'seed/demo4-destinationrule.yaml';
const deploymentFiles = ['manifests/10-deployment-v1.yaml', 'manifests/20-deployment-v2.yaml'];
const virtualServiceFiles = readdirSync(`${examples}manifests`).filter((file) => file.includes('virtualservice') || file.includes('bad-')).map((file) => `manifests/${file}`);

async function checkFindings(files: string[], cwd = examples, flags: string[] = []): Promise<{ code: number; findings: Finding[] }> {
  const { code, stdout } = await runCaptured(runCheck, [...files.flatMap((file) => ['-f', file]), '-o', 'json', ...flags], { cwd });
  return { code, findings: JSON.parse(stdout) as Finding[] };
}

const load = (file: string): Record<string, unknown> => parse(readFileSync(`${examples}${file}`, 'utf8')) as Record<string, unknown>;

describe('check agrees with the webhook on every example', () => {
  for (const withDeployments of [false, true]) {
    const scene = withDeployments ? 'after both canary Deployments are admitted' : 'with only the seeded v1 subset';
    for (const file of virtualServiceFiles) {
      it(`${file} ${scene}`, async () => {
        const { app } = buildApp({ seed: [load(seedFile) as unknown as DestinationRule] });
        if (withDeployments) {
          for (const deployment of deploymentFiles) {
            const answer = (await request(app).post('/mutate').send(review(load(deployment))).expect(200)).body as ReviewAnswer;
            assert.equal(answer.response.allowed, true, deployment);
          }
        }
        const webhook = (await request(app).post('/validate').send(review(load(file))).expect(200)).body as ReviewAnswer;
        const offline = await checkFindings([seedFile, ...(withDeployments ? deploymentFiles : []), file]);

        assert.equal(offline.code === 0, webhook.response.allowed, 'same verdict');
        const offlineErrors = offline.findings.filter((f) => f.severity === 'error').map((f) => `${f.path}: ${f.message}`);
        const webhookErrors = webhook.response.allowed ? [] : (webhook.response.status?.message ?? '').split('\n');
        assert.deepEqual(offlineErrors, webhookErrors, 'same problems');
        const offlineWarnings = offline.findings.filter((f) => f.severity === 'warning' && f.kind === 'VirtualService').map((f) => `${f.path}: ${f.message}`);
        assert.deepEqual(offlineWarnings, webhook.response.warnings ?? [], 'same warnings');
      });
    }
  }
});

// ---------------------------------------------------------------------------
// Today's Istio (SPEC §2 injection, §3 misplaced fields, §4 host resolution):
// the same agreement for every new case, with Namespaces seeded from files.

const today = fileURLToPath(new URL('./fixtures/istio-today/', import.meta.url));
const seedFiles = ['seed/namespaces.yaml', 'seed/destinationrules.yaml'];
const loadAll = (file: string): Array<Record<string, unknown>> => parseAllDocuments(readFileSync(`${today}${file}`, 'utf8')).map((doc) => doc.toJS() as Record<string, unknown>);
type Meta = { name: string; namespace?: string; labels?: Record<string, string> };
const metaOf = (object: Record<string, unknown>): Meta => object.metadata as Meta;

/** The standalone store as `--seed-dir test/fixtures/istio-today/seed` fills it. */
function todayApp(settings: Partial<RuleSettings>) {
  const all = { ...defaultRuleSettings, ...settings };
  const store = new MemoryStore(all, loadAll('seed/destinationrules.yaml') as unknown as DestinationRule[]);
  for (const namespace of loadAll('seed/namespaces.yaml')) store.putNamespace(metaOf(namespace).name, metaOf(namespace).labels ?? {});
  return buildApp({ store, settings });
}

async function injectOutput(files: string[], flags: string[]): Promise<{ code: number; documents: Array<Record<string, unknown>> }> {
  const { code, stdout } = await runCaptured(runInject, [...files.flatMap((file) => ['-f', file]), ...flags], { cwd: today });
  return { code, documents: parseAllDocuments(stdout).map((doc) => doc.toJS() as Record<string, unknown>) };
}

const line = (finding: Finding): string => (finding.path === '' ? finding.message : `${finding.path}: ${finding.message}`);

describe('check and inject agree with the webhook on today\'s Istio', () => {
  const flagSets: Array<{ name: string; settings: Partial<RuleSettings>; flags: string[] }> = [
    { name: 'defaults', settings: {}, flags: [] },
    { name: '--istio-revision 1-24-0', settings: { istioRevision: '1-24-0' }, flags: ['--istio-revision', '1-24-0'] },
  ];

  for (const file of readdirSync(`${today}virtualservices`).map((name) => `virtualservices/${name}`)) {
    it(file, async () => {
      const { app } = todayApp({});
      const webhook = (await request(app).post('/validate').send(review(load(`../test/fixtures/istio-today/${file}`))).expect(200)).body as ReviewAnswer;
      const offline = await checkFindings([...seedFiles, file], today);
      assert.equal(offline.code === 0, webhook.response.allowed, 'same verdict');
      const offlineErrors = offline.findings.filter((f) => f.severity === 'error').map(line);
      assert.deepEqual(offlineErrors, webhook.response.allowed ? [] : (webhook.response.status?.message ?? '').split('\n'), 'same problems');
      const offlineWarnings = offline.findings.filter((f) => f.severity === 'warning' && f.kind === 'VirtualService').map(line);
      assert.deepEqual(offlineWarnings, webhook.response.warnings ?? [], 'same warnings');
    });
  }

  for (const { name, settings, flags } of flagSets) {
    for (const file of readdirSync(`${today}deployments`).map((entry) => `deployments/${entry}`)) {
      it(`${file} (${name})`, async () => {
        const deployment = load(`../test/fixtures/istio-today/${file}`);
        const namespace = metaOf(deployment).namespace ?? 'default';
        const { app } = todayApp(settings);
        const webhook = (await request(app).post('/mutate').send(review(deployment, { namespace })).expect(200)).body as ReviewAnswer;
        assert.equal(webhook.response.allowed, true);
        const patched = jsonpatch.applyPatch(structuredClone(deployment), decodePatch(webhook) as Operation[], true).newDocument;

        const offline = await checkFindings(['seed/namespaces.yaml', file], today, flags);
        assert.equal(offline.code, 0);
        assert.deepEqual(offline.findings.filter((f) => f.kind === 'Deployment').map(line), webhook.response.warnings ?? [], 'same warnings');

        const injected = await injectOutput(['seed/namespaces.yaml', file], flags);
        assert.equal(injected.code, 0);
        assert.deepEqual(injected.documents.find((doc) => doc.kind === 'Deployment'), patched, 'inject prints what the webhook stores');
      });
    }
  }
});
