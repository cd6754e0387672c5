// The cost of the readiness check (SPEC §10, docs/readiness.md): the
// validate-allow scenario at 10 connections against two webhook processes on
// the Kubernetes store, one with --ready-policy=warn (pod counts cached, the
// default 2 s TTL) and one with --ready-policy=off, measured in alternating
// rounds in the same run. Target: "on" within 10% of "off".
//
// BENCH_READY_AA=1 (both servers off) and BENCH_READY_BB=1 (both on) measure
// the noise floor of the pairing: on this shared machine A/A gave 1.20× and
// B/B 1.01×.
//
// `runReadinessBench()` returns rows for bench/run.ts; run directly
// (`npm run build && node dist/bench/readiness.js`) it prints its own table.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { defaultRuleSettings } from '../src/rules/types.js';
import type { AdmissionRequest } from '../src/server/admission.js';
import type { AppDeps } from '../src/server/deps.js';
import { createMetrics } from '../src/server/metrics.js';
import { reviewVirtualService } from '../src/server/review-validate.js';
import { connectKubeStore } from '../src/store/kube/kube-store.js';
import { KubeWorkloadReader } from '../src/store/kube/workloads.js';
import { ensureDevCertificates } from '../src/tls/dev-certs.js';
import { FakeApiServer } from '../test/support/fake-apiserver.js';
import type { AppServerArgs } from './app-server.js';
import { NAMESPACE, destinationRules, virtualServiceReview } from './bodies.js';
import type { LoadConfig, LoadResult } from './load.js';
import { nodeCommand } from './pin.js';
import { cpuMs } from './process-cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');

export interface ReadinessBenchOptions {
  rounds?: number;
  durationSec?: number;
  warmupSec?: number;
  connections?: number;
}

export interface ReadinessRow {
  scenario: string;
  connections: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  /** "on" over "off", for the on row. */
  rpsRatio?: number;
  note?: string;
}

export interface ReadinessBenchResult {
  rows: ReadinessRow[];
  /** In-process CPU per review of reviewVirtualService (rules + readiness), check off and on (pods cached): the noise-free figure. */
  inProcess: { offUs: number; onUs: number };
  /** req/s with the check on over req/s with it off: the median of the rounds' ratios. */
  ratio: number;
  /** Pod lists and Service reads the "on" webhook sent over the whole run. */
  podLists: number;
  serviceReads: number;
}


export async function runReadinessBench(options: ReadinessBenchOptions = {}): Promise<ReadinessBenchResult> {
  const rounds = options.rounds ?? 3;
  const durationSec = options.durationSec ?? 2;
  const warmupSec = options.warmupSec ?? 0.5;
  const connections = options.connections ?? 10;
  const work = join(root, 'bench', '.tmp', `readiness-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const certs = await ensureDevCertificates(join(work, 'certs'));
  const ca = readFileSync(certs.caPath);

  // One API server per webhook, so the "on" server's reads can be counted alone.
  const apis: FakeApiServer[] = [];
  const servers: Array<{ child: ChildProcess; port: number }> = [];
  try {
    const start = async (name: string, policy: 'warn' | 'off'): Promise<{ child: ChildProcess; port: number; api: FakeApiServer }> => {
      const api = new FakeApiServer();
      for (const rule of destinationRules(4)) api.put('destinationrules', rule as never);
      api.put('services', { metadata: { name: 'reviews', namespace: NAMESPACE }, spec: { selector: { app: 'reviews' } } });
      for (const version of ['v1', 'v2', 'v3']) {
        for (const index of [0, 1]) {
          api.put('pods', {
            metadata: { name: `reviews-${version}-${index}`, namespace: NAMESPACE, labels: { app: 'reviews', version } },
            status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
          });
        }
      }
      await api.start();
      apis.push(api);
      const kubeconfig = api.writeKubeconfig(join(work, `${name}.kubeconfig`));
      const args: AppServerArgs = { certPath: certs.certPath, keyPath: certs.keyPath, kubeconfigPath: kubeconfig, extraFlags: ['--ready-policy', policy] };
      const server = await startApp(name, args, work);
      servers.push(server);
      return { ...server, api };
    };
    const off = await start('ready-off', process.env.BENCH_READY_BB === '1' ? 'warn' : 'off');
    const on = await start('ready-on', process.env.BENCH_READY_AA === '1' ? 'off' : 'warn');
    const requests = [
      { path: '/validate', body: JSON.stringify(virtualServiceReview('bench-ready-create', 'CREATE', false)) },
      { path: '/validate', body: JSON.stringify(virtualServiceReview('bench-ready-update', 'UPDATE', false)) },
    ];
    // Pre-flight: both admit, neither warns about readiness (every routed subset has Ready pods).
    for (const server of [off, on]) {
      const answer = JSON.parse(await post(server.port, requests[0]!.body, ca)) as { response: { allowed: boolean; warnings?: string[] } };
      if (!answer.response.allowed || (answer.response.warnings ?? []).some((w) => w.includes('no ready pod'))) throw new Error(`readiness pre-flight: ${JSON.stringify(answer.response)}`);
    }
    if (process.env.BENCH_READY_AA !== '1' && on.api.count({ path: '/pods' }) === 0) throw new Error('readiness pre-flight: the "on" webhook read no pods');

    const config = { connections, durationSec, warmupSec, requests };
    for (const server of [off, on]) await load(work, { ...config, durationSec: 2, warmupSec: 0, url: `https://127.0.0.1:${server.port}` });
    const offRounds: Round[] = [];
    const onRounds: Round[] = [];
    // ABBA order, so drift in the machine's load lands on both; the ratio is the median of the rounds' own ratios.
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const first = round % 2 === 0 ? off : on;
      const second = first === off ? on : off;
      const a = await measure(work, first, config);
      const b = await measure(work, second, config);
      const [offRound, onRound] = first === off ? [a, b] : [b, a];
      offRounds.push(offRound);
      onRounds.push(onRound);
      ratios.push(onRound.rps / offRound.rps);
    }
    const offResult = combine(offRounds);
    const onResult = combine(onRounds);
    const ratio = ratios.sort((x, y) => x - y)[Math.floor(ratios.length / 2)]!;
    const podLists = on.api.count({ path: '/pods' });
    const serviceReads = on.api.count({ path: '/services/' });
    const inProcess = await inProcessCost(requests.map((request) => request.body));
    return {
      ratio,
      inProcess,
      podLists,
      serviceReads,
      rows: [
        { scenario: 'validate-allow, --ready-policy=off', connections, rps: offResult.rps, p50Ms: offResult.p50, p99Ms: offResult.p99, cpuUsPerRequest: offResult.cpuUs },
        {
          scenario: 'validate-allow, --ready-policy=warn (pods cached)', connections, rps: onResult.rps, p50Ms: onResult.p50, p99Ms: onResult.p99, cpuUsPerRequest: onResult.cpuUs, rpsRatio: ratio,
          note: `median of ${rounds} ABBA rounds' req/s ratios; ${podLists} pod lists and ${serviceReads} Service reads for ${Math.round(onResult.total).toLocaleString('en-US')} reviews (2 s cache)`,
        },
        { scenario: 'reviewVirtualService in-process, check off', connections: 1, rps: 1e6 / inProcess.offUs, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuUsPerRequest: inProcess.offUs, note: 'CPU µs per review, median of 12 alternating blocks of 20,000' },
        { scenario: 'reviewVirtualService in-process, check on (pods cached)', connections: 1, rps: 1e6 / inProcess.onUs, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuUsPerRequest: inProcess.onUs, rpsRatio: inProcess.offUs / inProcess.onUs, note: `+${(inProcess.onUs - inProcess.offUs).toFixed(1)} µs CPU per review` },
      ],
    };
  } finally {
    for (const server of servers) await stop(server.child);
    for (const api of apis) await api.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The review function alone (JSON.parse of the body included), in this
 * process, against the real Kubernetes store and reader on a fake API server:
 * CPU per review with the check off and on, alternating blocks, median.
 * Free of the HTTP, TLS and machine noise that dominate the req/s figures.
 */
async function inProcessCost(bodies: string[]): Promise<{ offUs: number; onUs: number }> {
  const api = new FakeApiServer();
  for (const rule of destinationRules(4)) api.put('destinationrules', rule as never);
  api.put('services', { metadata: { name: 'reviews', namespace: NAMESPACE }, spec: { selector: { app: 'reviews' } } });
  for (const version of ['v1', 'v2', 'v3']) {
    api.put('pods', { metadata: { name: `reviews-${version}`, namespace: NAMESPACE, labels: { app: 'reviews', version } }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
  }
  await api.start();
  const logger = pino({ level: 'silent' });
  const store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings: defaultRuleSettings, logger });
  const reader = new KubeWorkloadReader({ kubeConfig: api.kubeConfig(), cacheTtlMs: 2_000 });
  try {
    await store.waitForSync(10_000);
    const off: AppDeps = { store, settings: defaultRuleSettings, logger, metrics: createMetrics(store, { processMetrics: false }), onSubsetError: 'deny', subsetWriteTimeoutMs: 3_000, maxBodyBytes: 10 * 1024 * 1024, isShuttingDown: () => false };
    const on: AppDeps = { ...off, readiness: { reader, maxReads: 10, timeoutMs: 1_500 } };
    const samples = { off: [] as number[], on: [] as number[] };
    for (let block = 0; block < 12; block++) {
      for (const name of block % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const deps = name === 'on' ? on : off;
        const reviews = 20_000;
        const before = process.cpuUsage();
        for (let i = 0; i < reviews; i++) await reviewVirtualService((JSON.parse(bodies[i % bodies.length]!) as { request: AdmissionRequest }).request, deps);
        const used = process.cpuUsage(before);
        samples[name].push((used.user + used.system) / reviews);
      }
    }
    const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    return { offUs: median(samples.off), onUs: median(samples.on) };
  } finally {
    reader.close();
    await store.close();
    await api.stop();
  }
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  total: number;
}

type Round = Measured & { responses: number; durationSec: number; cpuMs: number };

async function measure(work: string, server: { child: ChildProcess; port: number }, config: Omit<LoadConfig, 'url'>): Promise<Round> {
  const before = cpuMs(server.child.pid);
  const result = await load(work, { ...config, url: `https://127.0.0.1:${server.port}` });
  const used = cpuMs(server.child.pid) - before;
  return { rps: result.rps, p50: result.latencyMs.p50, p99: result.latencyMs.p99, cpuUs: (used * 1000) / Math.max(1, result.totalResponses), total: result.totalResponses, responses: result.responses, durationSec: result.durationSec, cpuMs: used };
}

function combine(rounds: Round[]): Measured {
  const sum = (pick: (m: Round) => number): number => rounds.reduce((total, m) => total + pick(m), 0);
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    rps: sum((m) => m.responses) / sum((m) => m.durationSec),
    p50: median(rounds.map((m) => m.p50)),
    p99: median(rounds.map((m) => m.p99)),
    cpuUs: (sum((m) => m.cpuMs) * 1000) / Math.max(1, sum((m) => m.total)),
    total: sum((m) => m.total),
  };
}

async function startApp(name: string, args: AppServerArgs, work: string): Promise<{ child: ChildProcess; port: number }> {
  // Logs to a file, so a server that cannot start says why.
  const logPath = join(work, `${name}.log`);
  const devNull = openSync(logPath, 'w');
  const profile = process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', '--cpu-prof-dir', join(root, 'bench', '.tmp', 'profiles', name)] : [];
  const [command, argv] = nodeCommand('0', [...profile, join(here, 'app-server.js'), JSON.stringify(args)]);
  const child = spawn(command, argv, { stdio: ['ignore', devNull, 'inherit', 'ipc'], cwd: root });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 120 s`)), 120_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready: ${readFileSync(logPath, 'utf8').slice(-2_000)}`)));
  });
  child.removeAllListeners('exit');
  return { child, port };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send('stop');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function load(work: string, config: LoadConfig): Promise<LoadResult> {
  const file = join(work, `load-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const [command, argv] = nodeCommand('1', [join(here, 'load.js'), file]);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  rmSync(file, { force: true });
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return JSON.parse(out) as LoadResult;
}


function post(port: number, body: string, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, method: 'POST', path: '/validate', ca, servername: 'localhost', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end(body);
  });
}


/** The rows as a Markdown table. */
export function readinessTable(result: ReadinessBenchResult): string {
  const fmt = (value: number, digits = 2): string => (Number.isNaN(value) ? '' : value.toFixed(digits));
  return [
    '| scenario | conns | req/s | p50 ms | p99 ms | CPU µs/req | × off req/s | notes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...result.rows.map((row) => `| ${row.scenario} | ${row.connections} | ${Math.round(row.rps).toLocaleString('en-US')} | ${fmt(row.p50Ms)} | ${fmt(row.p99Ms)} | ${fmt(row.cpuUsPerRequest, 0)} | ${row.rpsRatio === undefined ? '' : `${fmt(row.rpsRatio)}×`} | ${row.note ?? ''} |`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runReadinessBench({ rounds: Number(process.env.BENCH_ROUNDS ?? 3), durationSec: Number(process.env.BENCH_DURATION ?? 2) });
  process.stdout.write(`${readinessTable(result)}\n\n${result.ratio >= 0.9 ? 'MET    ' : 'NOT MET'}  readiness check on ≥ 0.9× off (validate-allow @10): ${result.ratio.toFixed(3)}×\n`);
  process.stdout.write(`in-process: ${result.inProcess.offUs.toFixed(1)} µs → ${result.inProcess.onUs.toFixed(1)} µs CPU per review\n`);
}
