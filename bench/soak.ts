// Soak (issue 7, not in CI): 200,000 mixed reviews — mutate patched, mutate
// denied, mutate skipped, validate allowed, validate denied — against the
// real standalone server (a child process running src/cli/main.ts) over
// HTTPS keep-alive. Every answer is checked (status, uid echoed, verdict);
// the server's RSS after the first 10,000 reviews is compared with its RSS at
// the end, which must be within 10%. Prints the numbers; exits 1 on any error,
// on RSS growth over 10%, or when the time bound runs out.
//
//   node --import tsx bench/soak.ts [--reviews 200000] [--concurrency 8] [--max-minutes 20]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    reviews: { type: 'string', default: '200000' },
    warmup: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '8' },
    'max-minutes': { type: 'string', default: '20' },
  },
});
const TOTAL = Number(flags.reviews);
const WARMUP = Number(flags.warmup);
const CONCURRENCY = Number(flags.concurrency);
const DEADLINE = Date.now() + Number(flags['max-minutes']) * 60_000;
const RSS_TOLERANCE = 0.10;

// ---------------------------------------------------------------------------
// The server

const certDir = mkdtempSync(join(tmpdir(), 'canary-webhook-soak-'));
const env = { ...process.env };
delete env.KUBECONFIG;
// Diagnostics only: on SIGUSR2 the server runs a full GC and prints its memory,
// so the two readings compare what is retained, not where the GC sawtooth happens to be.
const gcHook = `process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc(); const m = process.memoryUsage();
  process.stdout.write(JSON.stringify({ msg: 'soak-gc', rss: m.rss, heapUsed: m.heapUsed }) + '\\n'); });`;
const child = spawn(process.execPath, [
  '--expose-gc', '--import', `data:text/javascript,${encodeURIComponent(gcHook)}`,
  '--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'serve',
  '--standalone', '--port', '0', '--bind-address', '127.0.0.1', '--cert-dir', certDir,
  '--seed-dir', join(root, 'examples', 'seed'), '--log-level', 'info',
], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

let reviewLogLines = 0;
const gcWaiters: Array<(memory: { rss: number; heapUsed: number }) => void> = [];

/** Full GC in the server, then its RSS and heap. */
function collectAndMeasure(): Promise<{ rss: number; heapUsed: number }> {
  return new Promise((resolve) => {
    gcWaiters.push(resolve);
    child.kill('SIGUSR2');
  });
}
const port = await new Promise<number>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the server did not start within 60 s')), 60_000);
  // Production logs at info: one line per review. Drained (and counted) here as a log shipper would.
  createInterface({ input: child.stdout! }).on('line', (text) => {
    if (text.includes('"msg":"review"')) {
      reviewLogLines += 1;
      return;
    }
    const line = JSON.parse(text) as { msg?: string; port?: number; rss?: number; heapUsed?: number };
    if (line.msg === 'soak-gc') {
      gcWaiters.shift()?.({ rss: line.rss!, heapUsed: line.heapUsed! });
      return;
    }
    if (line.msg?.startsWith('canary-webhook listening')) {
      clearTimeout(timer);
      resolve(Number(line.port));
    }
  });
  void exited.then((code) => reject(new Error(`the server exited (${code}) before listening`)));
});
const ca = readFileSync(join(certDir, 'ca.crt'));
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca });

function rssBytes(): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function metric(name: string): Promise<number | undefined> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername: 'localhost', path: '/metrics', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end();
  });
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

// ---------------------------------------------------------------------------
// The mix

interface Planned { path: '/mutate' | '/validate'; body: string; uid: string; allowed: boolean; patched: boolean; kind: string }

const example = (name: string) => JSON.parse(readFileSync(join(root, 'examples', 'reviews', name), 'utf8')) as { request: Record<string, unknown> } & Record<string, unknown>;
const validateAllowed = ['validate-90-10.json', 'validate-50-50.json', 'validate-100-0.json', 'validate-header-match.json'].map(example);
const validateDenied = ['validate-bad-weights-90-5.json', 'validate-bad-missing-subset-v3.json'].map(example);

function deployment(app: string | undefined, version: string, optIn: boolean): Record<string, unknown> {
  const labels: Record<string, string> = { ...(app ? { app } : {}), ...(optIn ? { 'canary-webhook/enabled': 'true' } : {}) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${app ?? 'anon'}-${version}`, labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: app ? { app } : { name: 'x' } },
      template: {
        metadata: { labels: { ...(app ? { app } : { name: 'x' }), version } },
        spec: { containers: [{ name: 'app', image: `ghcr.io/example/app:${version}` }] },
      },
    },
  };
}

function envelope(uid: string, object: Record<string, unknown>, kind: 'Deployment' | 'VirtualService', apiVersion = 'admission.k8s.io/v1'): string {
  const gvk = kind === 'Deployment' ? { group: 'apps', version: 'v1', kind } : { group: 'networking.istio.io', version: 'v1', kind };
  const gvr = kind === 'Deployment' ? { group: 'apps', version: 'v1', resource: 'deployments' } : { group: 'networking.istio.io', version: 'v1', resource: 'virtualservices' };
  return JSON.stringify({ apiVersion, kind: 'AdmissionReview', request: { uid, kind: gvk, resource: gvr, namespace: 'soak', operation: 'CREATE', object, oldObject: null, dryRun: false } });
}

function plan(i: number): Planned {
  const uid = `soak-${i}`;
  switch (i % 10) {
    case 0: case 1: case 2: {
      // A canary Deployment: patched, its subset ensured. Versions cycle, so the
      // store reaches a steady size (20 services × 50 versions) as in a real cluster.
      const app = `svc-${i % 20}`;
      const version = `v${Math.floor(i / 20) % 50}`;
      return { path: '/mutate', uid, body: envelope(uid, deployment(app, version, true), 'Deployment', i % 2 ? 'admission.k8s.io/v1beta1' : 'admission.k8s.io/v1'), allowed: true, patched: true, kind: 'mutate-patched' };
    }
    case 3:
      return { path: '/mutate', uid, body: envelope(uid, deployment(undefined, 'v1', true), 'Deployment'), allowed: false, patched: false, kind: 'mutate-denied' };
    case 4:
      return { path: '/mutate', uid, body: envelope(uid, deployment('plain', 'v1', false), 'Deployment'), allowed: true, patched: false, kind: 'mutate-skipped' };
    case 5: case 6: case 7: {
      const base = validateAllowed[i % validateAllowed.length]!;
      return { path: '/validate', uid, body: JSON.stringify({ ...base, request: { ...base.request, uid } }), allowed: true, patched: false, kind: 'validate-allowed' };
    }
    default: {
      const base = validateDenied[i % validateDenied.length]!;
      return { path: '/validate', uid, body: JSON.stringify({ ...base, request: { ...base.request, uid } }), allowed: false, patched: false, kind: 'validate-denied' };
    }
  }
}

function send(planned: Planned): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1', port, servername: 'localhost', path: planned.path, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(planned.body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => resolve(`response error: ${error.message}`));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(`HTTP ${res.statusCode}`);
        try {
          const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response: { uid: string; allowed: boolean; patch?: string } };
          if (answer.response.uid !== planned.uid) return resolve(`uid ${answer.response.uid} for ${planned.uid}`);
          if (answer.response.allowed !== planned.allowed) return resolve(`${planned.kind}: allowed=${answer.response.allowed}`);
          // Each Deployment object is new (unlabelled), so a canary one is patched every time, even when its subset already exists.
          if ((answer.response.patch !== undefined) !== planned.patched) return resolve(`${planned.kind}: ${planned.patched ? 'no patch' : 'unexpected patch'}`);
          resolve(undefined);
        } catch (error) {
          resolve(`bad JSON: ${(error as Error).message}`);
        }
      });
    });
    req.on('error', (error) => resolve(`request error: ${error.message}`));
    req.end(planned.body);
  });
}

// ---------------------------------------------------------------------------
// The run

// The walkthrough's second step: demo4 v2 gets its subset, so the 90/10 and 50/50 VirtualServices validate.
const primed = await send({ path: '/mutate', uid: 'soak-prime', body: JSON.stringify({ ...example('mutate-demo4-v2.json'), request: { ...example('mutate-demo4-v2.json').request, uid: 'soak-prime' } }), allowed: true, patched: true, kind: 'prime' });
if (primed !== undefined) throw new Error(`priming demo4 v2 failed: ${primed}`);

const latencies = new Float64Array(TOTAL);
const errors = new Map<string, number>();
const byKind = new Map<string, number>();
let next = 0;
let done = 0;
let rssAfterWarmup = 0;
let timedOut = false;
const timeline: string[] = [];
const startedAt = performance.now();

async function worker(until: number): Promise<void> {
  while (next < until) {
    if (Date.now() > DEADLINE) {
      timedOut = true;
      return;
    }
    const i = next++;
    const planned = plan(i);
    const t0 = performance.now();
    const error = await send(planned);
    latencies[i] = performance.now() - t0;
    byKind.set(planned.kind, (byKind.get(planned.kind) ?? 0) + 1);
    if (error !== undefined) errors.set(error, (errors.get(error) ?? 0) + 1);
    done += 1;
    if (done % 20_000 === 0) {
      const heap = await metric('nodejs_heap_size_used_bytes');
      const line = `${String(done).padStart(7)} reviews  ${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)} s  RSS ${(rssBytes() / 2 ** 20).toFixed(1)} MiB  heap used ${((heap ?? NaN) / 2 ** 20).toFixed(1)} MiB`;
      timeline.push(line);
    }
  }
}

// Memory is read at two points, after the first WARMUP reviews and at the
// end, each after a full GC in the server (the load pauses meanwhile), so the
// comparison is of retained memory, not of where the GC sawtooth happens to be.
await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(Math.min(WARMUP, TOTAL))));
const pauseStarted = performance.now();
const rawRssAfterWarmup = rssBytes();
const afterWarmup = await collectAndMeasure();
rssAfterWarmup = afterWarmup.rss;
const heapAfterWarmup = afterWarmup.heapUsed;
const pausedMs = performance.now() - pauseStarted;
await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(TOTAL)));
const elapsedSec = (performance.now() - startedAt - pausedMs) / 1000;
const rawRssEnd = rssBytes();
const atEnd = await collectAndMeasure();
const rssEnd = atEnd.rss;
const heapUsed = atEnd.heapUsed;
const cacheSize = await metric('canary_webhook_destinationrule_cache_size');
agent.destroy();

child.kill('SIGTERM');
const exitCode = await exited;
rmSync(certDir, { recursive: true, force: true });

const sorted = Array.from(latencies.subarray(0, done)).sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
const growth = rssAfterWarmup > 0 ? (rssEnd - rssAfterWarmup) / rssAfterWarmup : NaN;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

const report = [
  `soak: ${done} reviews in ${elapsedSec.toFixed(1)} s (${(done / elapsedSec).toFixed(0)}/s), ${CONCURRENCY} keep-alive HTTPS connections`,
  `mix: ${[...byKind].map(([kind, count]) => `${kind} ${count}`).join(', ')}`,
  `latency: p50 ${pct(50).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms, p99.9 ${pct(99.9).toFixed(2)} ms, max ${pct(100).toFixed(1)} ms`,
  `RSS after a full GC: ${mib(rssAfterWarmup)} after ${WARMUP}, ${mib(rssEnd)} at the end (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%; limit +${RSS_TOLERANCE * 100}%)`,
  `RSS under load, before that GC: ${mib(rawRssAfterWarmup)} after ${WARMUP}, ${mib(rawRssEnd)} at the end`,
  `heap used after a full GC: ${mib(heapAfterWarmup)} after ${WARMUP}, ${mib(heapUsed)} at the end; DestinationRules in the store: ${cacheSize ?? '?'}`,
  ...timeline.map((line) => `  ${line.trim()}`),
  `review log lines: ${reviewLogLines}`,
  `errors: ${errorCount}${errorCount ? ` (${[...errors].slice(0, 10).map(([e, c]) => `${c}× ${e}`).join('; ')})` : ''}`,
  `server exit code after SIGTERM: ${exitCode}`,
  ...(timedOut ? [`TIME BOUND REACHED after ${flags['max-minutes']} min`] : []),
];
process.stdout.write(`${report.join('\n')}\n`);

const failed = errorCount > 0 || timedOut || done !== TOTAL || !(growth <= RSS_TOLERANCE) || exitCode !== 0;
process.exitCode = failed ? 1 : 0;
