// `canary-webhook serve` against a Kubernetes API, as a real process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateCertificates } from '../src/tls/dev-certs.js';
import { FakeApiServer } from './support/fake-apiserver.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

// timeoutMs only guards against a hang: a loaded CI machine can take 20 s to start tsx.
function serve(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args], { cwd: repo, timeout: timeoutMs, env: { PATH: process.env.PATH ?? '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('serve against a cluster: start-up errors', () => {
  const api = new FakeApiServer();
  const withIstio = new FakeApiServer();
  let dir: string;
  before(async () => {
    api.servedVersions = [];
    await api.start();
    dir = mkdtempSync(join(tmpdir(), 'canary-webhook-start-'));
    const certs = await generateCertificates({ dnsNames: ['localhost'] });
    writeFileSync(join(dir, 'tls.crt'), certs.cert);
    writeFileSync(join(dir, 'tls.key'), certs.key);
    const kubeconfig = (url: string): string => JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
      clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u' } }],
    });
    writeFileSync(join(dir, 'kubeconfig'), kubeconfig(api.url));
    await withIstio.start();
    writeFileSync(join(dir, 'kubeconfig-istio'), kubeconfig(withIstio.url));
  });
  after(async () => {
    await api.stop();
    await withIstio.stop();
  });

  it('exits 1 with one clear line and no stack trace', async () => {
    const run = await serve(['--kubeconfig', join(dir, 'kubeconfig'), '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--port', '0'], 90_000);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const fatal = run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; err?: string; msg: string }).find((line) => line.level === 60);
    assert.match(fatal?.err ?? '', /Istio CRDs not installed: the API server serves no networking\.istio\.io\/v1, v1beta1 or v1alpha3/);
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('refuses dev certificates against a cluster, and exits rather than hang on its watches', async () => {
    const run = await serve(['--kubeconfig', join(dir, 'kubeconfig-istio'), '--port', '0'], 90_000);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /--tls-cert and --tls-key are required against a cluster/);
  });
});
