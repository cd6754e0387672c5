// The guard's cost per review (issue 12): a DestinationRule UPDATE review
// through reviewGuard (the whole review minus HTTP: input gathering from the
// store's indexes, the pure rule, the verdict) with 10, 1,000 and 10,000
// VirtualServices in the store, of which 10 route to the rule's host. The
// target: p50 ≤ 2 ms, flat from 10 to 10,000 (each lookup is one index hit).
// `node dist/bench/guard.js [seconds]` prints a table; `--json` prints the rows.
import { performance } from 'node:perf_hooks';
import { defaultRuleSettings, type DestinationRule } from '../src/rules/types.js';
import type { AdmissionRequest } from '../src/server/admission.js';
import type { AppDeps } from '../src/server/deps.js';
import { reviewGuard } from '../src/server/review-guard.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { buildDeps } from '../test/support/app-harness.js';

const NAMESPACE = 'bench';
const REFERENCING = 10;
const settings = defaultRuleSettings;

export interface GuardRow {
  virtualServices: number;
  verdict: 'allowed' | 'denied';
  reviews: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerReview: number;
}

const rule = (name: string, host: string, subsets: string[], extra: Record<string, unknown> = {}): DestinationRule => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name, namespace: NAMESPACE, resourceVersion: '1' },
  spec: { host, subsets: subsets.map((subset) => ({ name: subset, labels: { version: subset } })), ...extra },
});

const virtualService = (name: string, host: string) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: NAMESPACE },
  spec: {
    hosts: [host],
    http: [{ route: [{ destination: { host, subset: 'v1' }, weight: 90 }, { destination: { host, subset: 'v2' }, weight: 10 }] }],
  },
});

/** A store holding `count` VirtualServices, REFERENCING of them routing to `reviews`, the rest each to its own service. */
function storeWith(count: number): MemoryStore {
  const rules = [rule('reviews', 'reviews', ['v1', 'v2'])];
  for (let i = 0; i < Math.min(count, 200); i++) rules.push(rule(`svc-${i}`, `svc-${i}`, ['v1', 'v2']));
  const store = new MemoryStore(settings, rules);
  for (let i = 0; i < count; i++) {
    const host = i < REFERENCING ? 'reviews' : `svc-${i % 200}`;
    store.routing.recordAdmitted('VirtualService', 'CREATE', virtualService(`vs-${i}`, host));
  }
  return store;
}

function depsFor(store: MemoryStore): AppDeps {
  return buildDeps({ store, settings, overrides: { guardMode: 'deny' } });
}

/** UPDATE of `reviews`: an unrelated edit (allowed) or dropping v2 (denied, 10 references). The request is parsed JSON, as the server gets it. */
function request(uid: number, drop: boolean): AdmissionRequest {
  const before = rule('reviews', 'reviews', ['v1', 'v2']);
  const after = drop ? rule('reviews', 'reviews', ['v1']) : rule('reviews', 'reviews', ['v1', 'v2'], { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } });
  return JSON.parse(JSON.stringify({
    uid: `bench-${uid}`,
    kind: { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule' },
    resource: { group: 'networking.istio.io', version: 'v1', resource: 'destinationrules' },
    namespace: NAMESPACE,
    operation: 'UPDATE',
    object: after,
    oldObject: before,
  })) as AdmissionRequest;
}

async function measure(count: number, drop: boolean, seconds: number): Promise<GuardRow> {
  const deps = depsFor(storeWith(count));
  const bodies = Array.from({ length: 64 }, (_, i) => request(i, drop));
  const expected = !drop;
  for (let i = 0; i < 500; i++) await reviewGuard(bodies[i % bodies.length]!, deps); // JIT warm-up
  const samples: number[] = [];
  const cpuStart = process.cpuUsage();
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    const verdict = await reviewGuard(bodies[samples.length % bodies.length]!, deps);
    samples.push(performance.now() - started);
    if (verdict.allowed !== expected) throw new Error(`expected allowed=${expected}, got ${JSON.stringify(verdict)}`);
  }
  const cpu = process.cpuUsage(cpuStart);
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return {
    virtualServices: count,
    verdict: drop ? 'denied' : 'allowed',
    reviews: samples.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    cpuMsPerReview: (cpu.user + cpu.system) / 1000 / samples.length,
  };
}

export async function guardBench(sizes: readonly number[] = [10, 1_000, 10_000], seconds = 1): Promise<GuardRow[]> {
  const rows: GuardRow[] = [];
  for (const size of sizes) for (const drop of [false, true]) rows.push(await measure(size, drop, seconds));
  return rows;
}

export function guardTable(rows: readonly GuardRow[]): string {
  const base = rows.find((row) => row.virtualServices === rows[0]?.virtualServices && row.verdict === 'allowed');
  const lines = [
    '| VirtualServices cached | verdict | reviews | p50 ms | p99 ms | CPU ms/review | p50 vs smallest |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const ref = rows.find((candidate) => candidate.verdict === row.verdict && candidate.virtualServices === base?.virtualServices) ?? row;
    lines.push(`| ${row.virtualServices.toLocaleString('en-US')} | ${row.verdict} | ${row.reviews} | ${row.p50Ms.toFixed(3)} | ${row.p99Ms.toFixed(3)} | ${row.cpuMsPerReview.toFixed(3)} | ${(row.p50Ms / ref.p50Ms).toFixed(2)}× |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && /guard\.[jt]s$/.test(process.argv[1])) {
  const seconds = Number(process.argv.find((arg) => /^\d+(\.\d+)?$/.test(arg)) ?? 1);
  const rows = await guardBench(undefined, seconds);
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(rows)}\n` : `${guardTable(rows)}\n`);
}
