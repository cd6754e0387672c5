// Nothing lost (issue 7): ensuring a subset on a DestinationRule that carries
// arbitrary other content — traffic policies, exportTo, workload selectors,
// unknown fields, odd keys, existing subsets with their own policies — keeps
// every other byte of the stored object. Compared as stored before and after,
// minus the one new subset and the metadata the server owns. With the
// in-memory store (standalone mode), through the HTTP mutate path, and with
// the Kubernetes store against the fake API server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import request from 'supertest';
import { defaultRuleSettings, type DestinationRule, type Subset, type SubsetRequest } from '../src/rules/types.js';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { buildApp, review } from './support/app-harness.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger } from './support/kube-fixtures.js';
import { canaryDeployment } from './support/objects.js';

// Appending to a user's rule is `--subset-placement=append`; the companion default never writes it at all.
const settings = { ...defaultRuleSettings, subsetPlacement: 'append' as const };
/** Metadata the API server (or the memory store) owns and changes on every write. */
const serverOwned = ['resourceVersion', 'generation', 'managedFields'];

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const oddKey = fc.oneof(
  fc.constantFrom('x-extra', 'futureField', 'ключ', '💥', 'a/b', '~1', 'with space', 'UPPER', '__proto__', 'constructor'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Extra fields with odd keys; `__proto__` is kept an own key (JSON.parse semantics). */
const extraFields = fc.array(fc.tuple(oddKey, anyJson), { maxLength: 3 }).map((entries) => {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return object;
});
const stringMap = fc.dictionary(fc.stringMatching(/^([a-z0-9.]{1,8}\/)?[a-z][a-z0-9-]{0,8}$/), fc.string({ maxLength: 30 }), { maxKeys: 4 });

const trafficPolicy = fc.oneof(
  fc.record({
    loadBalancer: fc.oneof(fc.record({ simple: fc.constantFrom('ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH') }), fc.record({ consistentHash: fc.record({ httpHeaderName: fc.string({ maxLength: 10 }) }) })),
    connectionPool: fc.record({ tcp: fc.record({ maxConnections: fc.nat(10_000) }), http: fc.record({ http1MaxPendingRequests: fc.nat(1000), idleTimeout: fc.constantFrom('1s', '90s', '1h') }) }, { requiredKeys: [] }),
    outlierDetection: fc.record({ consecutive5xxErrors: fc.nat(10), interval: fc.constantFrom('5s', '1m'), baseEjectionTime: fc.constantFrom('30s', '3m') }),
    tls: fc.record({ mode: fc.constantFrom('ISTIO_MUTUAL', 'SIMPLE', 'DISABLE') }),
    portLevelSettings: fc.array(fc.record({ port: fc.record({ number: fc.integer({ min: 1, max: 65535 }) }), loadBalancer: fc.record({ simple: fc.constantFrom('RANDOM') }) }), { maxLength: 2 }),
  }, { requiredKeys: [] }),
  anyJson,
);

const existingSubset = fc.record({
  name: dnsLabel,
  labels: fc.oneof(stringMap, fc.constant(undefined)),
  trafficPolicy: fc.option(trafficPolicy, { nil: undefined }),
  extra: extraFields,
}).map(({ name, labels, trafficPolicy: policy, extra }) => ({
  ...extra,
  name,
  ...(labels === undefined ? {} : { labels }),
  ...(policy === undefined ? {} : { trafficPolicy: policy }),
} as Subset));

interface Case { rule: DestinationRule; request: SubsetRequest }

/** A DestinationRule for service `svc` in `namespace` (host short or FQDN) and a subset it lacks. */
function caseArbitrary(namespace: () => string): fc.Arbitrary<Case> {
  return fc.record({
    name: dnsLabel,
    service: dnsLabel,
    // Only these spellings name the service: Istio takes `svc.ns` and `svc.ns.svc` literally (SPEC §4).
    hostForm: fc.constantFrom('short', 'fqdn'),
    labels: stringMap,
    annotations: stringMap,
    lastApplied: fc.boolean(),
    metadataExtra: fc.record({ finalizers: fc.array(fc.constantFrom('example.com/keep', 'foregroundDeletion'), { maxLength: 2 }), ownerReferences: fc.constant([{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: '00000000-0000-0000-0000-000000000001' }]) }, { requiredKeys: [] }),
    exportTo: fc.option(fc.array(fc.constantFrom('.', '*', 'istio-system', 'prod'), { maxLength: 3 }), { nil: undefined }),
    trafficPolicy: fc.option(trafficPolicy, { nil: undefined }),
    workloadSelector: fc.option(fc.record({ matchLabels: stringMap }), { nil: undefined }),
    subsets: fc.option(fc.uniqueArray(existingSubset, { selector: (s) => s.name, maxLength: 5 }), { nil: undefined, freq: 5 }),
    specExtra: extraFields,
    topExtra: extraFields.map((extra) => {
      // Top-level keys the object model depends on are not "unknown fields".
      for (const key of ['apiVersion', 'kind', 'metadata', 'spec']) delete extra[key];
      return extra;
    }),
    version: fc.stringMatching(/^v[0-9]{1,3}(-[a-z0-9]{1,6})?$/),
  }).filter((c) => !(c.subsets ?? []).some((s) => s.name === c.version))
    .map((c) => {
      const ns = namespace();
      const host = { short: c.service, fqdn: `${c.service}.${ns}.svc.cluster.local` }[c.hostForm];
      const annotations = { ...c.annotations, ...(c.lastApplied ? { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ spec: { host, subsets: c.subsets } }) } : {}) };
      const rule: DestinationRule = {
        ...c.topExtra,
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: c.name, namespace: ns, labels: c.labels, annotations, ...c.metadataExtra },
        spec: {
          ...c.specExtra,
          host,
          ...(c.exportTo === undefined ? {} : { exportTo: c.exportTo }),
          ...(c.trafficPolicy === undefined ? {} : { trafficPolicy: c.trafficPolicy }),
          ...(c.workloadSelector === undefined ? {} : { workloadSelector: c.workloadSelector }),
          ...(c.subsets === undefined ? {} : { subsets: c.subsets }),
        },
      };
      return {
        rule,
        request: { namespace: ns, service: c.service, host: `${c.service}.${ns}.svc.${settings.clusterDomain}`, subsetName: c.version, labels: { version: c.version } },
      };
    });
}

/**
 * Asserts `after` is `before` plus the one new subset at the end of
 * spec.subsets, compared as JSON text (so key order counts too), with
 * server-owned metadata left out.
 */
function assertOnlySubsetAdded(before: unknown, after: unknown, request: SubsetRequest): void {
  const strip = (object: unknown): Record<string, unknown> => {
    const copy = JSON.parse(JSON.stringify(object)) as Record<string, unknown> & { metadata: Record<string, unknown> };
    for (const key of serverOwned) delete copy.metadata[key];
    return copy;
  };
  const was = strip(before);
  const now = strip(after) as { spec: { subsets?: unknown[] } };
  const subsets = now.spec.subsets;
  assert.ok(Array.isArray(subsets) && subsets.length > 0, 'no subsets after ensuring one');
  const added = subsets[subsets.length - 1];
  assert.deepEqual(added, { name: request.subsetName, labels: request.labels });
  subsets.pop();
  if ((was as { spec: { subsets?: unknown } }).spec.subsets === undefined) {
    assert.equal(subsets.length, 0);
    delete now.spec.subsets;
  }
  assert.equal(JSON.stringify(now), JSON.stringify(was), 'something besides the new subset changed');
}

describe('ensuring a subset keeps everything else (fast-check)', () => {
  it('in the in-memory store', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(caseArbitrary(() => `mem-${(n += 1)}`), async ({ rule, request: subset }) => {
        const store = new MemoryStore(settings, [rule]);
        const before = structuredClone(store.list()[0]);
        const result = await store.ensureSubset(subset, Date.now() + 3_000);
        assert.equal(result.outcome, 'appended', JSON.stringify(result));
        const stored = store.list();
        assert.equal(stored.length, 1, 'a second DestinationRule was created');
        assertOnlySubsetAdded(before, stored[0], subset);
      }),
      { numRuns: 400 },
    );
  });

  it('through POST /mutate with the in-memory store', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(caseArbitrary(() => `http-${(n += 1)}`), async ({ rule, request: subset }) => {
        const { app, deps } = buildApp({ seed: [rule], settings });
        const before = structuredClone((deps.store as MemoryStore).list()[0]);
        const deployment = canaryDeployment(`${subset.service}-${subset.subsetName}`, subset.labels.version, { app: subset.service });
        const response = await request(app).post('/mutate').send(review(deployment, { namespace: subset.namespace })).expect(200);
        assert.equal((response.body as { response: { allowed: boolean } }).response.allowed, true, JSON.stringify(response.body));
        assertOnlySubsetAdded(before, (deps.store as MemoryStore).list()[0], subset);
      }),
      { numRuns: 150 },
    );
  });

  describe('in the Kubernetes store against the fake API server', () => {
    let fake: FakeApiServer;
    let store: KubeStore;

    before(async () => {
      fake = new FakeApiServer();
      await fake.start();
      store = await connectKubeStore({ kubeConfig: fake.kubeConfig(), settings, logger: memoryLogger('warn').logger });
      assert.ok(await store.waitForSync(10_000), 'the cache synced');
    });

    after(async () => {
      await store.close();
      await fake.stop();
    });

    it('patches in the subset and nothing else', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(caseArbitrary(() => `kube-${(n += 1)}`), async ({ rule, request: subset }) => {
          const { apiVersion: _apiVersion, kind: _kind, ...withoutType } = rule;
          fake.put('destinationrules', withoutType as DestinationRule);
          const before = fake.objects.get('destinationrules', subset.namespace, rule.metadata.name);
          // The write plans from the watch-fed cache: wait until it has the rule.
          const deadline = Date.now() + 5_000;
          while (!store.candidatesForHost(subset.host).some((r) => r.metadata.namespace === subset.namespace)) {
            if (Date.now() > deadline) assert.fail('the cache never saw the DestinationRule');
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          const result = await store.ensureSubset(subset, Date.now() + 3_000);
          assert.equal(result.outcome, 'appended', JSON.stringify(result));
          const stored = fake.objects.list('destinationrules', subset.namespace);
          assert.equal(stored.length, 1, 'a second DestinationRule was created');
          assertOnlySubsetAdded(before, stored[0], subset);
        }),
        { numRuns: 120 },
      );
    });
  });
});

describe('when the API server goes away (Kubernetes store, fake API server)', () => {
  it('denies the canary Deployment with the reason, validates from the cache, and loses nothing once it is back', async () => {
    const fake = new FakeApiServer();
    await fake.start();
    const original: DestinationRule = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'demo4', namespace: 'default', annotations: { owner: 'team-a' } },
      spec: {
        host: 'demo4',
        exportTo: ['.'],
        trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
        subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }],
        futureField: { keep: true },
      },
    };
    const { apiVersion: _apiVersion, kind: _kind, ...stored } = original;
    fake.put('destinationrules', stored as DestinationRule);
    const store = await connectKubeStore({
      kubeConfig: fake.kubeConfig(),
      settings,
      logger: memoryLogger('fatal').logger,
      requestTimeoutMs: 500,
      watchBackoff: { baseMs: 50, maxMs: 500 },
    });
    try {
      assert.ok(await store.waitForSync(10_000));
      const { app } = buildApp({ store, overrides: { subsetWriteTimeoutMs: 1_000 } });
      const before = fake.objects.get('destinationrules', 'default', 'demo4');
      const vs = (subset: string) => review({
        apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'demo4' },
        spec: { hosts: ['demo4'], http: [{ route: [{ destination: { host: 'demo4', subset } }] }] },
      });

      await fake.stop();
      const started = Date.now();
      const denied = (await request(app).post('/mutate').send(review(canaryDeployment('demo4-v2', 'v2'))).expect(200)).body as { response: { allowed: boolean; status?: { message: string } } };
      assert.equal(denied.response.allowed, false, 'admitted a canary Deployment whose subset could not be written');
      assert.match(denied.response.status?.message ?? '', /could not add subset "v2"/);
      assert.ok(Date.now() - started < 4_000, 'answered within the webhook timeout');
      // Validation keeps working from the cache; a missing subset is still denied (the direct read fails, the cache answers).
      assert.equal(((await request(app).post('/validate').send(vs('v1')).expect(200)).body as { response: { allowed: boolean } }).response.allowed, true);
      assert.equal(((await request(app).post('/validate').send(vs('v9')).expect(200)).body as { response: { allowed: boolean } }).response.allowed, false);

      await fake.start();
      // The apply is retried (kubectl, a GitOps controller) once the API server is back.
      const deadline = Date.now() + 10_000;
      let allowed = false;
      while (!allowed && Date.now() < deadline) {
        allowed = ((await request(app).post('/mutate').send(review(canaryDeployment('demo4-v2', 'v2'))).expect(200)).body as { response: { allowed: boolean } }).response.allowed;
        if (!allowed) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(allowed, 'never admitted after the API server came back');
      assertOnlySubsetAdded(before, fake.objects.get('destinationrules', 'default', 'demo4'), { namespace: 'default', service: 'demo4', host: 'demo4.default.svc.cluster.local', subsetName: 'v2', labels: { version: 'v2' } });
    } finally {
      await store.close();
      await fake.stop();
    }
  });
});
