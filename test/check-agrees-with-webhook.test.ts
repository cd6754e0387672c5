// One implementation of each rule: for every example, `canary-webhook check`
// reaches the verdict, problems and warnings the webhook answers over HTTP.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { parse } from 'yaml';
import { runCheck } from '../src/cli/check.js';
import type { Finding } from '../src/cli/findings.js';
import type { DestinationRule } from '../src/rules/types.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
const seedFile = 'seed/demo4-destinationrule.yaml';
const deploymentFiles = ['manifests/10-deployment-v1.yaml', 'manifests/20-deployment-v2.yaml'];
const virtualServiceFiles = readdirSync(`${examples}manifests`).filter((file) => file.includes('virtualservice') || file.includes('bad-')).map((file) => `manifests/${file}`);

async function checkFindings(files: string[]): Promise<{ code: number; findings: Finding[] }> {
  let stdout = '';
  const code = await runCheck([...files.flatMap((file) => ['-f', file]), '-o', 'json'], {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: () => true },
    stdin: Readable.from([]),
    cwd: examples,
    env: {},
  });
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
