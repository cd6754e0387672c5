// Peak RSS of the real server, as a child process at the shipped heap cap,
// while many large VirtualServices wait at once for the direct read before
// a missing-subset denial (issue 10, SPEC §6: "32 concurrent reviews of
// 3 MiB each must not end the process"). The Kubernetes API is the fake API
// server with latency on every request made after the cache synced, so
// each review is held at its direct read.
//
// Used by test/concurrent-large.test.ts (verdicts) and by the adversarial
// benchmark (the number). Linux only: peak RSS is the child's VmHWM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCertificates } from '../src/tls/dev-certs.js';
import { FakeApiServer } from '../test/support/fake-apiserver.js';

export interface ConcurrentLargeOptions {
  /** Reviews sent at once (default 32). */
  concurrent?: number;
  /** Size of each AdmissionReview body in bytes (default just under 3 MiB, the default limit). */
  bodyBytes?: number;
  /** --max-old-space-size of the server (default 192, as deploy/base ships). */
  heapCapMiB?: number;
  /** Latency of every API request once the cache synced: how long each review waits (default 1,500 ms). */
  readLatencyMs?: number;
  /** Extra `serve` flags. */
  serverArgs?: string[];
  /** How long each large review may take to be answered (default 120,000 ms). */
  answerTimeoutMs?: number;
  /** Repository whose server to run (default this one); `src/cli/main.ts` through tsx, else `dist/src/cli/main.js`. */
  repoRoot?: string;
}

export interface ConcurrentLargeResult {
  concurrent: number;
  bodyBytes: number;
  peakRssMiB: number;
  /** The process lived and answered a small review afterwards. */
  survived: boolean;
  /** Per large review: HTTP status, and for a 200 whether it was denied and the first line of the message. */
  answers: Array<{ status: number; allowed?: boolean; message?: string; error?: string }>;
  /** The small review sent after the large ones: its HTTP status and verdict. */
  smallReview?: { status: number; allowed?: boolean };
  /** What the server wrote to stderr (an out-of-heap report lands there). */
  stderr: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const defaultRoot = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');
const NAMESPACE = 'shop';

export async function measureConcurrentLargeReviews(opts: ConcurrentLargeOptions = {}): Promise<ConcurrentLargeResult> {
  const concurrent = opts.concurrent ?? 32;
  const bodyBytes = opts.bodyBytes ?? 3 * 1024 * 1024 - 4096;
  const root = opts.repoRoot ?? defaultRoot;
  const work = mkdtempSync(join(tmpdir(), 'canary-webhook-large-'));
  const api = new FakeApiServer();
  let child: ChildProcess | undefined;
  try {
    await api.start();
    api.put('destinationrules', {
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: NAMESPACE },
      spec: { host: `reviews.${NAMESPACE}.svc.cluster.local`, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
    });
    const certs = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(work, 'tls.crt'), certs.cert);
    writeFileSync(join(work, 'tls.key'), certs.key);
    writeFileSync(join(work, 'kubeconfig'), JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
      clusters: [{ name: 'fake', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u' } }],
    }));

    // Run through tsx when this file is (tests), the built server when this file is built (npm run bench).
    const fromSource = !here.split(sep).includes('dist');
    const entry = fromSource ? ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')] : [join(root, 'dist', 'src', 'cli', 'main.js')];
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: work };
    child = spawn(process.execPath, [
      `--max-old-space-size=${opts.heapCapMiB ?? 192}`, ...entry, 'serve', '--kubeconfig', join(work, 'kubeconfig'),
      '--tls-cert', join(work, 'tls.crt'), '--tls-key', join(work, 'tls.key'), '--port', '0', '--bind-address', '127.0.0.1',
      ...(opts.serverArgs ?? []),
    ], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (stderr = (stderr + chunk).slice(-20_000)));
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    const port = await listeningPort(child, exited);
    const ca = certs.caCert;
    const agent = new Agent({ ca, keepAlive: true, maxSockets: concurrent + 4 });
    const post = (body: string, timeoutMs: number) => postReview(port, agent, body, timeoutMs);
    await waitReady(port, agent, exited);

    api.latencyMs = opts.readLatencyMs ?? 1_500;
    const body = largeReview(bodyBytes);
    const pid = child.pid!;
    let peakKiB = 0;
    const sample = (): void => void (peakKiB = Math.max(peakKiB, procStatus(pid, 'VmHWM') ?? 0, procStatus(pid, 'VmRSS') ?? 0));
    const sampler = setInterval(sample, 20);
    const answers = await Promise.all(Array.from({ length: concurrent }, () => post(body, opts.answerTimeoutMs ?? 120_000).then(verdictOf, (error: Error) => ({ status: 0, error: error.message }))));
    sample();
    clearInterval(sampler);

    api.latencyMs = 0;
    const alive = child.exitCode === null && child.signalCode === null;
    let smallReview: ConcurrentLargeResult['smallReview'];
    if (alive) {
      const small: ConcurrentLargeResult['answers'][number] = await post(smallReviewBody(), 20_000).then(verdictOf, (error: Error) => ({ status: 0, error: error.message }));
      smallReview = { status: small.status, allowed: small.allowed };
    }
    agent.destroy();
    return {
      concurrent,
      bodyBytes: Buffer.byteLength(body),
      peakRssMiB: Math.round(peakKiB / 102.4) / 10,
      survived: alive && smallReview?.status === 200 && smallReview.allowed === true,
      answers,
      smallReview,
      stderr,
    };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    await api.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A VirtualService whose every `http` entry routes to subset "missing" of a host the cache knows: one reference each. */
export function largeReview(bodyBytes: number): string {
  const entry = JSON.stringify({ route: [{ destination: { host: 'reviews', subset: 'missing' } }] });
  const envelope = (http: string): string => JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: 'large', kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' },
      resource: { group: 'networking.istio.io', version: 'v1', resource: 'virtualservices' },
      namespace: NAMESPACE, operation: 'CREATE',
      object: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'large', namespace: NAMESPACE }, spec: { hosts: ['reviews'], http: ['HTTP'] } },
    },
  }).replace('"HTTP"', http);
  const count = Math.max(1, Math.floor((bodyBytes - Buffer.byteLength(envelope(''))) / (entry.length + 1)));
  return envelope(Array.from({ length: count }, () => entry).join(','));
}

function smallReviewBody(): string {
  return largeReview(1).replace('"subset":"missing"', '"subset":"v1"').replace('"uid":"large"', '"uid":"small"');
}

function verdictOf(answer: { status: number; text: string }): ConcurrentLargeResult['answers'][number] {
  if (answer.status !== 200) return { status: answer.status, message: answer.text.slice(0, 200) };
  const { response } = JSON.parse(answer.text) as { response: { allowed: boolean; status?: { message?: string } } };
  return { status: 200, allowed: response.allowed, message: response.status?.message?.split('\n')[0] };
}

function postReview(port: number, agent: Agent, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, servername: 'localhost', path: '/validate', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function waitReady(port: number, agent: Agent, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !gone) {
    const status = await new Promise<number>((resolve) => {
      const req = httpsRequest({ host: '127.0.0.1', port, servername: 'localhost', path: '/readyz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the server never became ready');
}

function listeningPort(child: ChildProcess, exited: Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: string): void => {
      buffer += chunk;
      for (const line of buffer.split('\n')) {
        if (!line.includes('canary-webhook listening')) continue;
        child.stdout!.off('data', onData);
        // Keep draining so the child never blocks on a full pipe.
        child.stdout!.resume();
        resolve(Number((JSON.parse(line) as { port: number }).port));
        return;
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    void exited.then(() => reject(new Error(`server exited before listening: ${buffer.slice(0, 2_000)}`)));
  });
}

/** A field of /proc/<pid>/status in KiB, or undefined once the process is gone. */
function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
