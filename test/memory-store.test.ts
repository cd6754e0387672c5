// The in-memory store (standalone mode, offline CLI) and the host index both stores use.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HostIndex } from '../src/store/host-index.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { DestinationRule } from '../src/rules/types.js';
import { names, rule, settings, subsetRequest } from './support/kube-fixtures.js';

const fqdn = (service: string, namespace: string): string => `${service}.${namespace}.svc.cluster.local`;

describe('MemoryStore', () => {
  const seed = (): DestinationRule[] => [
    rule('default', 'reviews', 'reviews', ['v1'], { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }),
    rule('prod', 'all-prod', '*.prod.svc.cluster.local', ['stable']),
    rule('istio-system', 'mesh', '*', ['any']),
  ];

  it('is ready at once, counts its seed, and does not share the seed objects', async () => {
    const input = seed();
    const store = new MemoryStore(settings, input);
    assert.equal(store.isReady(), true);
    assert.equal(store.size(), 3);
    await store.refreshNamespaces(['default']);
    input[0]!.spec.host = 'changed';
    assert.deepEqual(names(store.candidatesForHost(fqdn('reviews', 'default'))), ['default/reviews', 'istio-system/mesh']);
    await store.close();
  });

  it('finds exact and wildcard hosts, most specific first', () => {
    const store = new MemoryStore(settings, seed());
    assert.deepEqual(names(store.candidatesForHost(fqdn('reviews', 'default'))), ['default/reviews', 'istio-system/mesh']);
    assert.deepEqual(names(store.candidatesForHost(fqdn('ratings', 'prod'))), ['prod/all-prod', 'istio-system/mesh']);
    assert.deepEqual(names(store.candidatesForHost('api.example.com')), ['istio-system/mesh']);
  });

  it('creates, appends, then reports present, bumping resourceVersion on each write', async () => {
    const store = new MemoryStore(settings, seed());
    const deadline = Date.now() + 1_000;

    const created = await store.ensureSubset(subsetRequest('shop', 'cart', 'v1'), deadline);
    assert.equal(created.outcome, 'created');
    assert.ok(created.outcome === 'created');
    assert.equal(created.destinationRule.metadata.name, 'cart');
    assert.equal(created.destinationRule.metadata.labels?.['app.kubernetes.io/managed-by'], 'canary-webhook');
    assert.deepEqual(names(store.candidatesForHost(fqdn('cart', 'shop'))), ['shop/cart', 'istio-system/mesh']);

    const before = Number(store.list().find((r) => r.metadata.name === 'reviews')!.metadata.resourceVersion);
    const appended = await store.ensureSubset(subsetRequest('default', 'reviews', '2.0.0', '2-0-0'), deadline);
    assert.equal(appended.outcome, 'appended');
    const reviews = store.list().find((r) => r.metadata.name === 'reviews')!;
    assert.deepEqual(reviews.spec.subsets?.map((s) => s.name), ['v1', '2-0-0']);
    assert.deepEqual(reviews.spec.subsets?.[1]?.labels, { version: '2.0.0' });
    assert.deepEqual(reviews.spec.trafficPolicy, { tls: { mode: 'ISTIO_MUTUAL' } });
    assert.ok(Number(reviews.metadata.resourceVersion) > before);

    const present = await store.ensureSubset(subsetRequest('default', 'reviews', '2.0.0', '2-0-0'), deadline);
    assert.equal(present.outcome, 'present');
    assert.ok(present.outcome === 'present');
    assert.deepEqual(present.warnings, []);

    const otherLabels = await store.ensureSubset({ ...subsetRequest('default', 'reviews', 'v1'), labels: { version: 'v1-other' } }, deadline);
    assert.equal(otherLabels.outcome, 'present');
    assert.ok(otherLabels.outcome === 'present' && otherLabels.warnings.length === 1);
    assert.equal(store.size(), 4);
    assert.deepEqual(names(store.list()), ['default/reviews', 'istio-system/mesh', 'prod/all-prod', 'shop/cart']);
  });
});

describe('HostIndex', () => {
  const build = (count: number): HostIndex => {
    const index = new HostIndex('cluster.local');
    for (let i = 0; i < count; i++) index.upsert(rule(`ns${i % 100}`, `svc${i}`, `svc${i}`));
    index.upsert(rule('ns7', 'wild-ns7', '*.ns7.svc.cluster.local'));
    index.upsert(rule('mesh', 'everything', '*'));
    index.upsert(rule('ext', 'example', 'api.example.com'));
    return index;
  };

  it('answers the right candidates among 10,000 rules', () => {
    const index = build(10_000);
    assert.equal(index.size(), 10_003);
    assert.deepEqual(names(index.candidatesForHost('svc4207.ns7.svc.cluster.local')), ['ns7/svc4207', 'ns7/wild-ns7', 'mesh/everything']);
    assert.deepEqual(names(index.candidatesForHost('SVC4208.ns8.svc.cluster.local')), ['ns8/svc4208', 'mesh/everything']);
    assert.deepEqual(names(index.candidatesForHost('svc4208.ns9.svc.cluster.local')), ['mesh/everything']);
    assert.deepEqual(names(index.candidatesForHost('api.example.com')), ['ext/example', 'mesh/everything']);
    assert.equal(index.inNamespace('ns7').length, 101);
  });

  it('costs the same with 10 or 10,000 rules', () => {
    const time = (index: HostIndex): number => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) index.candidatesForHost(`svc${i % 10}.ns${i % 10}.svc.cluster.local`);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const small = build(10);
    const large = build(10_000);
    time(small);
    time(large);
    const smallMs = Math.min(time(small), time(small));
    const largeMs = Math.min(time(large), time(large));
    // Generous: a scan would be ~1000× slower; an index stays within noise.
    assert.ok(largeMs < smallMs * 5 + 20, `10,000 rules: ${largeMs.toFixed(1)} ms vs 10 rules: ${smallMs.toFixed(1)} ms`);
  });

  it('updates, deletes, and replaces a namespace or everything', () => {
    const index = new HostIndex('cluster.local');
    index.upsert(rule('a', 'r', 'one'));
    index.upsert(rule('a', 'r', 'two'));
    assert.deepEqual(names(index.candidatesForHost('one.a.svc.cluster.local')), []);
    assert.deepEqual(names(index.candidatesForHost('two.a.svc.cluster.local')), ['a/r']);
    index.upsert(rule('b', 's', 'two.a.svc.cluster.local'));
    index.replaceNamespace('a', [rule('a', 'q', 'three')]);
    assert.deepEqual(names(index.candidatesForHost('two.a.svc.cluster.local')), ['b/s']);
    assert.deepEqual(names(index.candidatesForHost('three.a.svc.cluster.local')), ['a/q']);
    assert.equal(index.delete('b', 's'), true);
    assert.equal(index.delete('b', 's'), false);
    index.replaceAll([rule('c', 'x', 'x')]);
    assert.equal(index.size(), 1);
    assert.deepEqual(index.namespaces(), ['c']);
  });

  it('orders same-host rules as Istio merges them: oldest first', () => {
    const index = new HostIndex('cluster.local');
    const late = rule('a', 'aaa', 'svc');
    late.metadata.creationTimestamp = '2024-02-01T00:00:00Z';
    const early = rule('a', 'zzz', 'svc');
    early.metadata.creationTimestamp = '2024-01-01T00:00:00Z';
    index.upsert(late);
    index.upsert(early);
    assert.deepEqual(names(index.candidatesForHost('svc.a.svc.cluster.local')), ['a/zzz', 'a/aaa']);
  });
});
