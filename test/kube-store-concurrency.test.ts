// No lost update (SPEC §2): 50 canary subsets of one service, 50 versions,
// ensured at once through two webhook replicas (or one, unserialized), with
// injected 409s and 500s on top of the natural conflicts. The DestinationRule
// must end with all 50 subsets and everything it had before. Seeded, so a
// failing run can be replayed; prints the numbers for the closing note.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DestinationRule } from '../src/rules/types.js';
import { connectKubeStore, type KubeStore, type WriteResult } from '../src/store/kube/kube-store.js';
import type { EnsureSubsetResult } from '../src/store/types.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { companionSettings, memoryLogger, seededRandom, settings, subsetRequest, waitFor } from './support/kube-fixtures.js';

const COUNT = 50;
const INJECTED_409 = 20;
const INJECTED_500 = 3;
const DEADLINE_MS = 3_000; // the default subset-write deadline
// Unqueued, 50 writers retry against each other (~600 requests): that scenario
// checks the no-lost-update property of the optimistic path alone, not speed.
const UNQUEUED_DEADLINE_MS = 10_000;

const original = (): DestinationRule => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'reviews', namespace: 'bookinfo', labels: { team: 'books' }, annotations: { 'example.com/owner': 'books' } },
  spec: {
    host: 'reviews',
    exportTo: ['.', 'istio-system'],
    trafficPolicy: { connectionPool: { tcp: { maxConnections: 100 } }, tls: { mode: 'ISTIO_MUTUAL' } },
    subsets: [
      { name: 'v1', labels: { version: 'v1' }, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
      { name: 'legacy', labels: { version: 'legacy', track: 'old' } },
    ],
    futureField: { keep: ['me', 1, true] },
  },
});

interface Scenario {
  seed: number;
  replicas: number;
  serialize: boolean;
  existing: boolean;
  /** The existing rule is user-owned and the shipped companion placement puts every subset beside it. */
  companion?: boolean;
}

const scenarios: Scenario[] = [
  { seed: 1, replicas: 2, serialize: true, existing: true },
  { seed: 2, replicas: 2, serialize: true, existing: true },
  { seed: 3, replicas: 2, serialize: true, existing: true },
  { seed: 4, replicas: 1, serialize: false, existing: true },
  { seed: 5, replicas: 2, serialize: true, existing: false },
  { seed: 6, replicas: 2, serialize: true, existing: true, companion: true },
];

describe('50 canary subsets of one service at once', () => {
  for (const scenario of scenarios) {
    const label = `seed ${scenario.seed}: ${scenario.replicas} replica(s), ${scenario.serialize ? 'queued per rule' : 'unqueued'}, ${scenario.companion ? 'user rule, companion placement' : scenario.existing ? 'existing rule' : 'no rule yet'}`;
    // Where the subsets go: the existing rule (append mode) or the companion beside it.
    const target = scenario.companion ? 'reviews-canary-webhook' : 'reviews';
    const creates = !scenario.existing || scenario.companion === true;
    it(label, async (t) => {
      const random = seededRandom(scenario.seed);
      const fake = new FakeApiServer();
      await fake.start();
      const stores: KubeStore[] = [];
      try {
        const userVersion = scenario.existing ? String(fake.put('destinationrules', original()).metadata?.resourceVersion) : '';
        const writes = new Map<WriteResult, number>();
        for (let i = 0; i < scenario.replicas; i++) {
          stores.push(
            await connectKubeStore({
              kubeConfig: fake.kubeConfig(),
              settings: scenario.companion ? companionSettings : settings,
              logger: memoryLogger('warn').logger,
              // Unqueued, 50 writers contend for one object: a wider backoff spreads them (the default suits group commit).
              subsetWriteRetry: scenario.serialize ? {} : { serialize: false, maxDelayMs: 400 },
              onWrite: (result) => writes.set(result, (writes.get(result) ?? 0) + 1),
            }),
          );
        }
        for (const store of stores) assert.equal(await store.waitForSync(2_000), true);
        fake.latencyMs = () => random() * 4;
        fake.failNext({ method: creates ? 'POST' : 'PATCH', path: '/destinationrules', status: 409, count: creates ? 5 : INJECTED_409 });
        if (creates) fake.failNext({ method: 'PATCH', path: `/destinationrules/${target}`, status: 409, count: INJECTED_409 - 5 });
        fake.failNext({ method: 'GET', path: '/namespaces/bookinfo/destinationrules', status: 500, count: INJECTED_500 });
        const before = fake.requests.length;

        const versions = Array.from({ length: COUNT }, (_, i) => `1.${i}.0`);
        for (let i = versions.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [versions[i], versions[j]] = [versions[j]!, versions[i]!];
        }
        const started = Date.now();
        const results: EnsureSubsetResult[] = await Promise.all(
          versions.map(async (version) => {
            await new Promise((resolve) => setTimeout(resolve, random() * 20));
            const store = stores[Math.floor(random() * stores.length)]!;
            return store.ensureSubset(subsetRequest('bookinfo', 'reviews', version, version.replaceAll('.', '-')), Date.now() + (scenario.serialize ? DEADLINE_MS : UNQUEUED_DEADLINE_MS));
          }),
        );
        const elapsedMs = Date.now() - started;

        const failures = results.filter((r) => r.outcome === 'failed');
        assert.deepEqual(failures, [], 'every subset written by its deadline');
        const stored = fake.objects.get('destinationrules', 'bookinfo', target) as unknown as DestinationRule;
        const subsets = stored.spec.subsets ?? [];
        const expected = [...(scenario.existing && !scenario.companion ? ['v1', 'legacy'] : []), ...versions.map((v) => v.replaceAll('.', '-'))];
        assert.deepEqual([...subsets.map((s) => s.name)].sort(), [...expected].sort(), 'all subsets, each once');
        for (const subset of subsets.filter((s) => s.name !== 'v1' && s.name !== 'legacy')) {
          assert.deepEqual(subset, { name: subset.name, labels: { version: subset.name.replaceAll('-', '.') } });
        }
        if (scenario.companion) {
          const user = fake.objects.get('destinationrules', 'bookinfo', 'reviews') as unknown as DestinationRule;
          assert.equal(user.metadata.resourceVersion, userVersion, 'the user rule was never written');
          assert.deepEqual(user.spec, original().spec);
          assert.deepEqual(stored.spec.exportTo, original().spec.exportTo, 'the companion carries the user rule\'s exportTo');
          assert.equal(results.filter((r) => r.outcome === 'created').length, 1);
        } else if (scenario.existing) {
          const before = original();
          assert.deepEqual(subsets.slice(0, 2), before.spec.subsets, 'existing subsets kept first, with their own trafficPolicy');
          assert.deepEqual({ ...stored.spec, subsets: undefined }, { ...before.spec, subsets: undefined }, 'every other spec field kept');
          assert.deepEqual(stored.metadata.labels, before.metadata.labels);
          assert.deepEqual(stored.metadata.annotations, before.metadata.annotations);
        } else {
          assert.equal(stored.metadata.labels?.['app.kubernetes.io/managed-by'], 'canary-webhook');
          assert.equal(results.filter((r) => r.outcome === 'created').length, 1);
        }
        for (const store of stores) {
          await waitFor('each replica cache to hold the final version', () =>
            store.candidatesForHost('reviews.bookinfo.svc.cluster.local').find((r) => r.metadata.name === target)?.metadata.resourceVersion === stored.metadata.resourceVersion,
          );
        }

        const requests = fake.requests.slice(before).filter((r) => !r.watch);
        const injected409 = fake.injected.get(409) ?? 0;
        const conflictAnswers = requests.filter((r) => r.status === 409 || r.status === 422).length;
        // Every failed call was retried (all 50 ended written), so failed calls = retries seen.
        const failedCalls = requests.filter((r) => (r.status ?? 0) >= 400).length;
        const numbers = {
          seed: scenario.seed,
          replicas: scenario.replicas,
          serialized: scenario.serialize,
          requests: requests.length,
          lists: requests.filter((r) => r.method === 'GET').length,
          posts: requests.filter((r) => r.method === 'POST').length,
          patches: requests.filter((r) => r.method === 'PATCH').length,
          conflictsInjected: injected409,
          errorsInjected: fake.injected.get(500) ?? 0,
          naturalConflicts: conflictAnswers - injected409,
          retriesSeen: failedCalls,
          maxAttemptsOfOneRequest: Math.max(...results.map((r) => r.attempts)),
          conflictCallbacks: writes.get('conflict') ?? 0,
          finalSubsets: subsets.length,
          elapsedMs,
        };
        t.diagnostic(JSON.stringify(numbers));
        console.log(`concurrency ${JSON.stringify(numbers)}`);
        assert.equal(numbers.conflictsInjected, INJECTED_409);
        assert.ok(numbers.retriesSeen >= INJECTED_409 + INJECTED_500, 'every injected fault cost a retry');
      } finally {
        await Promise.all(stores.map((store) => store.close()));
        await fake.stop();
      }
    });
  }
});
