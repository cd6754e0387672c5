// Issue 16: CPU the readiness check (issue 14), the mesh-claim warning and
// the standalone guard recording (issue 12) add to an allowed /validate,
// caches warm, in a tight loop next to the rules walk they follow. The same
// functions review-validate.ts calls, on the benchmark's VirtualService body.
// `node dist/bench/allow-additions.js [seconds]` prints µs per review.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { meshClaimWarnings } from '../src/rules/mesh-hosts.js';
import { defaultRuleSettings } from '../src/rules/types.js';
import { validateKeepingReferences } from '../src/rules/validate.js';
import type { AdmissionRequest } from '../src/server/admission.js';
import type { AppDeps } from '../src/server/deps.js';
import { createMetrics } from '../src/server/metrics.js';
import { recordAdmitted } from '../src/server/record-admitted.js';
import { checkReadiness, readinessQueriesOf } from '../src/server/review-ready.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { MemoryWorkloads } from '../src/store/memory-workloads.js';
import { NAMESPACE, canaryDeployment, destinationRules, virtualServiceReview } from './bodies.js';

const seconds = Number(process.argv[2] ?? 1);
const settings = { ...defaultRuleSettings, readyPolicy: 'warn' as const };
const store = new MemoryStore(settings, destinationRules(4));
const workloads = new MemoryWorkloads(store.deployments);
for (const version of ['v1', 'v2']) store.deployments.upsert(canaryDeployment('reviews', version, { stored: true }), NAMESPACE);
const deps: AppDeps = {
  store, settings, logger: pino({ level: 'silent' }), metrics: createMetrics({ size: () => 0 }),
  onSubsetError: 'deny', subsetWriteTimeoutMs: 1000, maxBodyBytes: 3 << 20, isShuttingDown: () => false,
  readiness: { reader: workloads, maxReads: 16, timeoutMs: 5000 },
};
const request = (virtualServiceReview('bench', 'UPDATE', false) as { request: AdmissionRequest }).request;
const object = request.object as Record<string, unknown>;
const lookup = (host: string) => store.candidatesForHost(host);
const walked = validateKeepingReferences(object, lookup, { namespace: NAMESPACE, settings });

type Step = () => unknown;
const steps: Record<string, Step> = {
  'rules walk (validateKeepingReferences)': () => validateKeepingReferences(object, lookup, { namespace: NAMESPACE, settings }),
  // From the walk's references, as /validate does (the walk itself is the row above).
  'readiness: queries + cached check': () => checkReadiness(readinessQueriesOf(walked.references, NAMESPACE, deps), request.uid, Date.now(), deps),
  'mesh-claim warning': () => meshClaimWarnings(object, 'reviews', NAMESPACE, (host) => store.routing.meshClaims(NAMESPACE, host), settings.clusterDomain),
  'guard recording (standalone only)': () => recordAdmitted(deps, request, 'VirtualService', NAMESPACE, object),
};

async function time(step: Step): Promise<number> {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < 200; i++) await step();
    n += 200;
  }
  return ((performance.now() - start) * 1000) / n;
}

for (const step of Object.values(steps)) await time(step); // warm-up: JIT, caches
for (const [name, step] of Object.entries(steps)) console.log(`${name.padEnd(42)} ${(await time(step)).toFixed(2)} µs`);
