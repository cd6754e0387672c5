// --store=memory|kube|auto (SPEC §6 "Never silently standalone inside a
// cluster"), as a real process: a pod without a service-account token must
// not quietly answer from memory while /readyz says 200.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

function serve(args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // No KUBECONFIG, and a HOME without ~/.kube/config: nothing to fall back to.
  const home = mkdtempSync(join(tmpdir(), 'canary-webhook-home-'));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--bind-address', '127.0.0.1', ...args], {
      cwd: repo, timeout: timeoutMs, env: { PATH: process.env.PATH ?? '', HOME: home, ...env },
    }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

function fatalLine(stdout: string): { err?: string; msg: string } | undefined {
  return stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; err?: string; msg: string }).find((line) => line.level === 60);
}

describe('serve --store', () => {
  it('inside a pod with no token (KUBERNETES_SERVICE_HOST set) exits 1 with one clear line instead of running standalone', async () => {
    const run = await serve([], { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const fatal = fatalLine(run.stdout);
    assert.match(fatal?.err ?? '', /KUBERNETES_SERVICE_HOST is set but there is no service-account token/);
    assert.match(fatal?.err ?? '', /--store=memory/, 'says how to run in memory on purpose');
    assert.doesNotMatch(run.stdout, /listening/);
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('--store=kube with no kubeconfig anywhere exits 1', async () => {
    const run = await serve(['--store=kube'], {});
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(fatalLine(run.stdout)?.err ?? '', /--store=kube: no in-cluster config and no kubeconfig found/);
  });

  it('--store=memory (and its alias --standalone) runs in memory even inside a pod', async () => {
    for (const flag of ['--store=memory', '--standalone']) {
      const certDir = mkdtempSync(join(tmpdir(), 'canary-webhook-certs-'));
      const home = mkdtempSync(join(tmpdir(), 'canary-webhook-home-'));
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--bind-address', '127.0.0.1', flag, '--cert-dir', certDir], {
        cwd: repo, env: { PATH: process.env.PATH ?? '', HOME: home, KUBERNETES_SERVICE_HOST: '10.96.0.1' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
            stdout += chunk;
            if (/canary-webhook listening/.test(stdout)) resolve();
          });
          child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${stdout}`)));
        });
      } finally {
        child.kill('SIGKILL');
      }
      assert.match(stdout, /DestinationRules live in memory/, flag);
    }
  });
});
