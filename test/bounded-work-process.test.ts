// Issue 10 reproductions against the real binary at the shipped heap cap
// (--max-old-space-size=192, deploy/base): each worst object gets its
// verdict, the process survives, and a small review is answered afterwards.
// Before the fix the 16,000-label host ended `serve` with "JavaScript heap
// out of memory", and `check -f` on it needed 342 MB.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { httpsRequest } from './support/https-client.js';
import { repoRoot } from './support/reliability-admission.js';
import { spawnServer, type ServerProcess } from './support/reliability-process.js';
import { admissionReview, longHostInput, manyHostsInput, rule, wildcardNamespacesInput, type AdversarialInput } from './support/adversarial.js';

const HEAP_CAP = '--max-old-space-size=192';

interface Answer { response: { uid: string; allowed: boolean; status?: { code: number; message: string } } }

describe('serve --standalone at the shipped heap cap, attacked', () => {
  let server: ServerProcess;
  let seedDir: string;
  const wide = manyHostsInput(4_000, 'v9');
  const tenants = wildcardNamespacesInput(2_000, 500, 'v9');

  before(async () => {
    seedDir = mkdtempSync(join(tmpdir(), 'canary-webhook-adversarial-'));
    const seed = [...wide.destinationRules, ...tenants.destinationRules, rule('default', 'reviews', 'reviews', ['v1'])];
    writeFileSync(join(seedDir, 'rules.yaml'), seed.map((doc) => JSON.stringify(doc)).join('\n---\n'));
    server = await spawnServer(['--seed-dir', seedDir], { nodeArgs: [HEAP_CAP], startTimeoutMs: 60_000 });
  });
  after(() => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    rmSync(seedDir, { recursive: true, force: true });
  });

  const validate = async (input: AdversarialInput, uid: string): Promise<Answer['response']> => {
    const answer = await httpsRequest(`https://127.0.0.1:${server.port}/validate`, { ca: server.ca, body: JSON.stringify(admissionReview(input, uid)) });
    assert.equal(answer.status, 200, answer.text.slice(0, 500));
    const parsed = JSON.parse(answer.text) as Answer;
    assert.equal(parsed.response.uid, uid);
    return parsed.response;
  };

  const smallReviewStillWorks = async (uid: string): Promise<void> => {
    const small: AdversarialInput = {
      namespace: 'default',
      destinationRules: [],
      virtualService: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } },
    };
    // Allowed (a readiness warning may come with it: no Deployment runs in this standalone server).
    const response = await validate(small, uid);
    assert.equal(response.allowed, true, JSON.stringify(response));
    assert.equal(server.child.exitCode, null, `the server exited: ${server.stderr().slice(-500)}`);
  };

  it('a destination host of 16,000 labels (32 KB) is denied with its path, and the server lives on', async () => {
    const response = await validate(longHostInput(16_000), 'long-host');
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.equal(response.status?.message, 'spec.http[0].route[0].destination.host: is 31,999 characters long; a DNS name has at most 253');
    await smallReviewStillWorks('after-long-host');
  });

  it('4,000 hosts against 4,000 rules, every subset missing: each miss named, the server lives on', async () => {
    const response = await validate(wide, 'many-hosts').catch((error: Error) => assert.fail(`${error.message}; server: ${server.stderr().slice(-1500)}`));
    assert.equal(response.allowed, false);
    const lines = response.status?.message.split('\n') ?? [];
    assert.equal(lines.length, 101);
    assert.equal(lines[0], 'spec.http[0].route[0]: subset "v9" of host svc-0.wide.svc.cluster.local is not defined; DestinationRule wide/svc-0 defines v1, v2');
    assert.equal(lines[100], '... and 3900 more problems');
    await smallReviewStillWorks('after-many-hosts');
  });

  it('2,000 namespaces holding host "*", 500 external hosts: the first namespace by name explains each miss', async () => {
    const response = await validate(tenants, 'tenants');
    assert.equal(response.allowed, false);
    const lines = response.status?.message.split('\n') ?? [];
    assert.equal(lines[0], 'spec.http[0].route[0]: subset "v9" of host ext-0.example.com is not defined; DestinationRule tenant-0/everything (host *) defines v1');
    assert.equal(lines[100], '... and 400 more problems');
    await smallReviewStillWorks('after-tenants');
  });
});

describe('check -f on the 16,000-label host', () => {
  it('denies it in a process with a 64 MB heap (it needed 342 MB), exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canary-webhook-long-host-'));
    try {
      const input = longHostInput(16_000);
      const file = join(dir, 'long-host.yaml');
      writeFileSync(file, [...input.destinationRules, { ...input.virtualService, metadata: { name: 'adversarial', namespace: input.namespace } }].map((doc) => stringify(doc)).join('---\n'));
      const args = ['--max-old-space-size=64', '--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'check', '-f', file];
      const result = await promisify(execFile)(process.execPath, args, { cwd: repoRoot, maxBuffer: 1 << 20 }).then(
        (done) => ({ code: 0, stdout: done.stdout, stderr: done.stderr }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
      assert.equal(result.code, 1, result.stderr.slice(-500));
      assert.match(result.stdout, /VirtualService attack\/adversarial: spec\.http\[0\]\.route\[0\]\.destination\.host: is 31,999 characters long; a DNS name has at most 253/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
