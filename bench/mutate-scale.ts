// Mutate cost against the number of DestinationRules in the namespace
// (SPEC §6 "no lookup grows with the number of rules"). The real review
// path (reviewDeployment → mutateDeployment → store.ensureSubset → planner)
// with the in-memory store, in-process: every review admits a new version,
// so every review plans and writes a subset. The planner reads only the
// service's host from the host index, so 10 and 10,000 rules in the
// namespace should cost the same. `npx tsx bench/mutate-scale.ts` prints
// the table; bench/adversarial.ts calls measureMutateScale().
import { performance } from 'node:perf_hooks';
import { defaultRuleSettings, type DestinationRule } from '../src/rules/types.js';
import { reviewDeployment } from '../src/server/review-mutate.js';
import type { AdmissionRequest } from '../src/server/admission.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { buildDeps } from '../test/support/app-harness.js';

const NAMESPACE = 'scale';
/** Services whose new versions are admitted; each rule stays far below --max-subsets. */
const SERVICES = 50;

function otherRules(count: number): DestinationRule[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: `other-${i}`, namespace: NAMESPACE, creationTimestamp: new Date(1_700_000_000_000 + i * 1_000).toISOString() },
    spec: { host: `other-${i}`, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
  }));
}

function deploymentReview(service: string, version: string, uid: number): AdmissionRequest {
  const object = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${service}-${version}`, namespace: NAMESPACE, labels: { app: service, 'canary-webhook/enabled': 'true' } },
    spec: {
      selector: { matchLabels: { app: service } },
      template: { metadata: { labels: { app: service, version } }, spec: { containers: [{ name: service, image: `example.com/${service}:1.0.0` }] } },
    },
  };
  return {
    uid: `scale-${uid}`,
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    namespace: NAMESPACE,
    operation: 'CREATE',
    object,
  } as unknown as AdmissionRequest;
}

async function p50Ms(rules: number, reviews: number): Promise<number> {
  const settings = defaultRuleSettings;
  const store = new MemoryStore(settings, otherRules(rules));
  const deps = buildDeps({ store, settings });
  const samples: number[] = [];
  for (let i = 0; i < reviews; i++) {
    const request = deploymentReview(`svc-${i % SERVICES}`, `v${Math.floor(i / SERVICES)}`, i);
    const started = performance.now();
    const verdict = await reviewDeployment(request, deps);
    const elapsed = performance.now() - started;
    if (!verdict.allowed) throw new Error(`mutate-scale: review ${i} denied: ${verdict.message ?? ''}`);
    samples.push(elapsed);
  }
  await store.close();
  // The first reviews warm the JIT up; steady state is what a long-running webhook sees.
  const steady = samples.slice(Math.floor(samples.length / 5)).sort((a, b) => a - b);
  return steady[Math.floor(steady.length / 2)]!;
}

/** Mutate p50 (ms) with 10 and 10,000 other DestinationRules in the Deployment's namespace. */
export async function measureMutateScale(): Promise<Array<{ rules: number; p50Ms: number }>> {
  const sizes = [10, 10_000];
  const reviews = Number(process.env.BENCH_MUTATE_SCALE_REVIEWS ?? 2_000);
  await p50Ms(10, Math.min(500, reviews)); // warm-up of the whole path, not measured
  const results: Array<{ rules: number; p50Ms: number }> = [];
  for (const rules of sizes) results.push({ rules, p50Ms: await p50Ms(rules, reviews) });
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await measureMutateScale();
  const base = results[0]!.p50Ms;
  process.stdout.write('| rules in namespace | mutate p50 (ms) | ratio to 10 rules |\n|---:|---:|---:|\n');
  for (const { rules, p50Ms } of results) process.stdout.write(`| ${rules.toLocaleString('en-US')} | ${p50Ms.toFixed(3)} | ${(p50Ms / base).toFixed(2)} |\n`);
}
