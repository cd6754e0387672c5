// SPEC §10, the pure part: which subsets get traffic, how pods and
// Deployments are counted, and what the user reads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  countPods,
  MAX_QUERY_PATHS,
  labelSelectorOf,
  podSelector,
  readinessFindings,
  readinessQueries,
  selectorString,
  summarizeWorkloads,
  workloadOf,
  type ReadinessQuery,
  type WorkloadSummary,
} from '../src/rules/readiness.js';
import { defaultRuleSettings, type DestinationRule } from '../src/rules/types.js';
import { canaryDeployment, destinationRule } from './support/objects.js';

const settings = defaultRuleSettings;
const host = 'reviews.shop.svc.cluster.local';
const rules: DestinationRule[] = [destinationRule('shop', 'reviews', 'reviews', ['v1', 'v2', 'v3'])];

function vs(http: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews' }, spec: { hosts: ['reviews'], http, ...extra } };
}
const dest = (subset: string, weight?: number, target = 'reviews'): Record<string, unknown> => ({ destination: { host: target, subset }, ...(weight === undefined ? {} : { weight }) });
const queriesOf = (object: unknown, namespace = 'shop', candidates = rules): ReadinessQuery[] => readinessQueries(object, namespace, () => candidates, settings);

describe('readinessQueries: which destinations are checked', () => {
  it('weight > 0 destinations are checked, weight 0 and mirrors are not', () => {
    const object = vs([{ route: [dest('v1', 90), dest('v2', 10), dest('v3', 0)], mirror: { host: 'reviews', subset: 'v3' }, mirrors: [{ destination: { host: 'reviews', subset: 'v3' } }] }]);
    const queries = queriesOf(object);
    assert.deepEqual(queries.map((q) => [q.subset, q.paths]), [['v1', ['spec.http[0].route[0]']], ['v2', ['spec.http[0].route[1]']]]);
    assert.deepEqual(queries[1], { key: queries[1]!.key, namespace: 'shop', service: 'reviews', host, subset: 'v2', labels: { version: 'v2' }, paths: ['spec.http[0].route[1]'], pathCount: 1 });
  });

  it('the only destination is checked whatever its weight; tcp and tls routes too', () => {
    const object = vs([{ route: [dest('v3', 0)] }], { tcp: [{ route: [dest('v1')] }], tls: [{ route: [dest('v2', 50), dest('v1', 50)] }] });
    assert.deepEqual(queriesOf(object).map((q) => [q.subset, q.paths]), [
      ['v3', ['spec.http[0].route[0]']],
      ['v1', ['spec.tcp[0].route[0]', 'spec.tls[0].route[1]']],
      ['v2', ['spec.tls[0].route[0]']],
    ]);
  });

  it('one query per distinct subset, however often it is routed to', () => {
    const object = vs(Array.from({ length: 50 }, () => ({ route: [dest('v1', 50), dest('v2', 50)] })));
    const queries = queriesOf(object);
    assert.equal(queries.length, 2);
    assert.equal(queries[0]!.paths.length, 50);
    assert.equal(queries[0]!.pathCount, 50);
  });

  it(`keeps the first ${MAX_QUERY_PATHS} paths of a subset and counts the rest, so a review holds no path per route entry`, () => {
    const object = vs(Array.from({ length: 42_000 }, () => ({ route: [dest('v1')] })));
    const [query] = queriesOf(object);
    assert.equal(query!.pathCount, 42_000);
    assert.deepEqual(query!.paths, Array.from({ length: MAX_QUERY_PATHS }, (_, i) => `spec.http[${i}].route[0]`));
    const warned = readinessFindings([query!], () => ({ source: 'pods', running: 1, ready: 0 }), 'warn').warnings;
    assert.equal(warned.at(-1), `... and ${42_000 - 10} more destinations with no ready pod`);
    const denied = readinessFindings([query!], () => ({ source: 'pods', running: 1, ready: 0 }), 'deny');
    assert.equal(denied.problemCount, 42_000);
    assert.equal(denied.problems.length, MAX_QUERY_PATHS);
  });

  it('skips what is not a readiness question: undefined subsets, hosts outside the cluster, unusable labels', () => {
    const junk: DestinationRule = { metadata: { name: 'j', namespace: 'shop' }, spec: { host: 'junk', subsets: [{ name: 'bad', labels: { version: 'v1,app!=x' } }] } };
    const object = vs([{ route: [dest('v9', 50), dest('v1', 25, 'api.example.com'), dest('bad', 25, 'junk')] }]);
    assert.deepEqual(queriesOf(object, 'shop', [...rules, junk]), []);
  });

  it('uses the DestinationRule Istio selects: the VirtualService namespace first, then the service\'s', () => {
    const local = destinationRule('front', 'reviews-local', 'reviews.shop.svc.cluster.local', ['v2']);
    local.spec.subsets![0]!.labels = { track: 'canary' };
    const object = vs([{ route: [dest('v2', 100, 'reviews.shop.svc.cluster.local')] }]);
    assert.deepEqual(queriesOf(object, 'front', [...rules, local])[0]?.labels, { track: 'canary' });
    assert.deepEqual(queriesOf(object, 'shop', [...rules, local])[0]?.labels, { version: 'v2' });
  });

  it('a store\'s frozen candidate list is memoised by identity: a new list (a changed rule) is seen, other namespaces select on their own', () => {
    const object = vs([{ route: [dest('v2', 100, 'reviews.shop.svc.cluster.local')] }]);
    const before = Object.freeze([destinationRule('shop', 'reviews', 'reviews', ['v2'])]);
    const changed = destinationRule('shop', 'reviews', 'reviews', ['v2']);
    changed.spec.subsets![0]!.labels = { track: 'canary' };
    const after = Object.freeze([changed]);
    assert.deepEqual(queriesOf(object, 'shop', before as DestinationRule[])[0]?.labels, { version: 'v2' });
    assert.deepEqual(queriesOf(object, 'shop', after as DestinationRule[])[0]?.labels, { track: 'canary' });
    assert.deepEqual(queriesOf(object, 'shop', before as DestinationRule[])[0]?.labels, { version: 'v2' });
    const local = Object.freeze([...before, { ...destinationRule('front', 'local', 'reviews.shop.svc.cluster.local', ['v2']), spec: { host: 'reviews.shop.svc.cluster.local', subsets: [{ name: 'v2', labels: { lane: 'front' } }] } }]);
    assert.deepEqual(queriesOf(object, 'front', local as DestinationRule[])[0]?.labels, { lane: 'front' });
    assert.deepEqual(queriesOf(object, 'shop', local as DestinationRule[])[0]?.labels, { version: 'v2' });
  });

  it('never throws on junk and stays linear on a wide object', () => {
    for (const junk of [null, 7, 'x', [], { spec: 1 }, { spec: { http: 'x' } }, { spec: { http: [null, { route: [null, 1, { destination: 'x' }] }] } }]) {
      assert.deepEqual(queriesOf(junk), []);
    }
    const wide = vs([{ route: Array.from({ length: 100_000 }, (_, i) => dest(`s${i}`, 1)) }]);
    const many: DestinationRule = { metadata: { name: 'm', namespace: 'shop' }, spec: { host: 'reviews', subsets: Array.from({ length: 100_000 }, (_, i) => ({ name: `s${i}`, labels: { version: `s${i}` } })) } };
    assert.equal(queriesOf(wide, 'shop', [many]).length, 100_000);
  });
});

describe('readinessFindings: what the user reads', () => {
  const [query] = queriesOf(vs([{ route: [dest('v1', 90), dest('v2', 10)] }])).slice(1);
  const notReady: WorkloadSummary = { source: 'pods', running: 2, ready: 0 };

  it('the warning names the path, subset, host and the counts', () => {
    assert.deepEqual(readinessFindings([query!], () => notReady, 'warn'), {
      problems: [],
      problemCount: 0,
      warnings: ['spec.http[0].route[1]: subset "v2" of reviews.shop.svc.cluster.local selects no ready pod (0 of 2 Running pods Ready); traffic sent there gets 503'],
    });
  });

  it('deny turns it into a problem, off says nothing, a ready pod or an unknown summary says nothing', () => {
    const denied = readinessFindings([query!], () => notReady, 'deny');
    assert.deepEqual(denied.problems.map((p) => [p.path, p.kind]), [['spec.http[0].route[1]', 'ready']]);
    assert.match(denied.problems[0]!.message, /selects no ready pod \(0 of 2 Running pods Ready\); traffic sent there gets 503; shift traffic once it has Ready pods$/);
    assert.deepEqual(readinessFindings([query!], () => notReady, 'off'), { problems: [], problemCount: 0, warnings: [] });
    assert.deepEqual(readinessFindings([query!], () => ({ source: 'pods', running: 2, ready: 1 }), 'warn').warnings, []);
    assert.deepEqual(readinessFindings([query!], () => undefined, 'warn').warnings, []);
  });

  it('Deployment counts (standalone, offline) are worded as such', () => {
    const none = readinessFindings([query!], () => ({ source: 'deployments', matching: 0, scaled: 0 }), 'warn').warnings[0];
    assert.match(none!, /selects no ready pod \(no Deployment matches its labels\)/);
    const zero = readinessFindings([query!], () => ({ source: 'deployments', matching: 1, scaled: 0 }), 'warn').warnings[0];
    assert.match(zero!, /\(1 matching Deployment, scaled to 0\)/);
  });

  it('property: a warning for each routed path exactly when its subset has nothing ready (capped, the rest counted)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(3), fc.nat(3)), { minLength: 1, maxLength: 15 }), (counts) => {
      const queries: ReadinessQuery[] = counts.map((_, i) => ({ key: `k${i}`, namespace: 'shop', service: 'reviews', host, subset: `s${i}`, labels: { version: `s${i}` }, paths: [`spec.http[${i}].route[0]`], pathCount: 1 }));
      const summaries = new Map(queries.map((q, i) => [q.key, { source: 'pods' as const, running: counts[i]![0] + counts[i]![1], ready: counts[i]![1] }]));
      const { warnings } = readinessFindings(queries, (q) => summaries.get(q.key), 'warn');
      const expected = queries.filter((q) => summaries.get(q.key)!.ready === 0).map((q) => q.paths[0]!);
      const shown = warnings.filter((w) => w.startsWith('spec.')).map((w) => w.split(':')[0]);
      assert.deepEqual(shown, expected.slice(0, 10));
      if (expected.length > 10) assert.equal(warnings.at(-1), `... and ${expected.length - 10} more destinations with no ready pod`);
    }));
  });
});

describe('counting', () => {
  const pod = (phase: string, ready: string | undefined, extra: Record<string, unknown> = {}): unknown => ({
    metadata: { name: 'p', ...extra },
    status: { phase, conditions: ready === undefined ? [] : [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: ready }] },
  });

  it('countPods: Running and not terminating; Ready from the condition', () => {
    assert.deepEqual(countPods([pod('Running', 'True'), pod('Running', 'False'), pod('Pending', undefined), pod('Running', 'True', { deletionTimestamp: '2026-01-01T00:00:00Z' }), null, 'x', {}]), { running: 2, ready: 1 });
  });

  it('podSelector: subset labels within the Service selector; a disagreement selects nothing', () => {
    assert.deepEqual(podSelector({ version: 'v2' }, { app: 'reviews' }), { app: 'reviews', version: 'v2' });
    assert.equal(podSelector({ app: 'other' }, { app: 'reviews' }), 'conflict');
    assert.equal(podSelector({}, undefined), undefined);
    assert.equal(selectorString({ version: 'v2', app: 'reviews' }), 'app=reviews,version=v2');
  });

  it('labelSelectorOf accepts Kubernetes label syntax only', () => {
    assert.deepEqual(labelSelectorOf({ 'app.kubernetes.io/version': '1.2.3', version: '' }), { 'app.kubernetes.io/version': '1.2.3', version: '' });
    assert.deepEqual(labelSelectorOf(undefined), {});
    for (const bad of [{ version: 'a,b' }, { 'a b': 'x' }, { version: 'x'.repeat(64) }, { version: 1 }, ['x'], 'x']) assert.equal(labelSelectorOf(bad), undefined, JSON.stringify(bad));
  });

  it('summarizeWorkloads: same namespace, the service by name or by selector, labels covered, replicas > 0', () => {
    const v1 = workloadOf(canaryDeployment('reviews-v1', 'v1', { app: 'reviews' }), 'shop', settings)!;
    const v2 = { ...workloadOf(canaryDeployment('reviews-v2', 'v2', { app: 'reviews' }), 'shop', settings)!, replicas: 0 };
    const elsewhere = workloadOf(canaryDeployment('reviews-v2', 'v2', { app: 'reviews' }), 'other', settings)!;
    const query = { namespace: 'shop', service: 'reviews', labels: { version: 'v2' } };
    assert.deepEqual(v1, { namespace: 'shop', service: 'reviews', labels: { app: 'reviews', version: 'v1' }, replicas: 1 });
    assert.deepEqual(summarizeWorkloads([v1, v2, elsewhere], query), { source: 'deployments', matching: 1, scaled: 0 });
    assert.deepEqual(summarizeWorkloads([v1, v2, elsewhere], { ...query, labels: { version: 'v1' } }), { source: 'deployments', matching: 1, scaled: 1 });
    assert.deepEqual(summarizeWorkloads([v1], { ...query, labels: { version: 'v1' } }, { app: 'ratings' }), { source: 'deployments', matching: 0, scaled: 0 });
  });
});
