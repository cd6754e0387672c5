// SPEC §2 placement with `--subset-placement=companion` (the default): the
// pure planner never writes a user-owned rule. (Append mode: subset-plan.test.ts.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSubset } from '../src/rules/subset-plan.js';
import { defaultRuleSettings, type DestinationRule, type SubsetPlan, type SubsetRequest } from '../src/rules/types.js';

const settings = defaultRuleSettings;
const managed = { 'app.kubernetes.io/managed-by': 'canary-webhook' };

function request(version: string, service = 'reviews'): SubsetRequest {
  return { namespace: 'default', service, host: `${service}.default.svc.cluster.local`, subsetName: version, labels: { version } };
}

function dr(name: string, spec: Record<string, unknown>, labels?: Record<string, string>, created?: string): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: 'default', ...(labels ? { labels } : {}), ...(created ? { creationTimestamp: created } : {}), resourceVersion: '7' },
    spec: { host: 'reviews', ...spec },
  } as DestinationRule;
}

const subsets = (...names: string[]) => names.map((name) => ({ name, labels: { version: name } }));
/** The Git-style user rule of the issue. */
const gitRule = (): DestinationRule =>
  dr('reviews', { exportTo: ['.'], trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } }, subsets: subsets('v1') }, { owner: 'team-books' }, '2024-01-01T00:00:00Z');

function expectAction<A extends SubsetPlan['action']>(plan: SubsetPlan, action: A): Extract<SubsetPlan, { action: A }> {
  assert.equal(plan.action, action, JSON.stringify(plan));
  return plan as Extract<SubsetPlan, { action: A }>;
}

describe('companion placement', () => {
  it('no rule for the host → create <service>, as before', () => {
    const plan = expectAction(planSubset(request('v1'), [], settings), 'create');
    assert.equal(plan.destinationRule.metadata.name, 'reviews');
    assert.deepEqual(plan.destinationRule.metadata.labels, managed);
  });

  it('only a user rule → create <service>-canary-webhook: same host, its exportTo copied exactly, no trafficPolicy', () => {
    const user = gitRule();
    const before = structuredClone(user);
    const plan = expectAction(planSubset(request('v2'), [user], settings), 'create');
    assert.deepEqual(plan.destinationRule, {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews-canary-webhook', namespace: 'default', labels: managed },
      spec: { host: 'reviews.default.svc.cluster.local', exportTo: ['.'], subsets: subsets('v2') },
    });
    assert.deepEqual(user, before, 'the user rule is not changed');
  });

  it('a user rule without exportTo → a companion without exportTo (Istio compares the sets as written)', () => {
    const plan = expectAction(planSubset(request('v2'), [dr('reviews', { subsets: subsets('v1') })], settings), 'create');
    assert.equal('exportTo' in plan.destinationRule.spec, false);
  });

  it('subset already in the user rule → none, no write', () => {
    expectAction(planSubset(request('v1'), [gitRule()], settings), 'none');
  });

  it('the companion exists and merges → append there', () => {
    const companion = dr('reviews-canary-webhook', { exportTo: ['.'], subsets: subsets('v2') }, managed, '2024-02-01T00:00:00Z');
    const plan = expectAction(planSubset(request('v3'), [gitRule(), companion], settings), 'append');
    assert.equal(plan.original, companion);
    assert.deepEqual(plan.updated.spec.subsets, subsets('v2', 'v3'));
  });

  it('a managed rule among the merging ones → append there (the webhook\'s own <service>)', () => {
    const own = dr('reviews', { subsets: subsets('v1') }, managed);
    const plan = expectAction(planSubset(request('v2'), [own], settings), 'append');
    assert.equal(plan.original, own);
  });

  it('a companion whose exportTo drifted from the user rule\'s is brought back in line while appending', () => {
    const stale = dr('reviews-canary-webhook', { exportTo: ['*'], subsets: subsets('v2') }, managed, '2024-02-01T00:00:00Z');
    const plan = expectAction(planSubset(request('v3'), [gitRule(), stale], settings), 'append');
    assert.deepEqual(plan.updated.spec.exportTo, ['.']);
    assert.deepEqual(plan.updated.spec.subsets, subsets('v2', 'v3'));
  });

  it('the user rule now defines the companion\'s subset too → the companion\'s copy is dropped on its next write', () => {
    const user = dr('reviews', { exportTo: ['.'], subsets: subsets('v1', 'v2') }, undefined, '2024-01-01T00:00:00Z');
    const companion = dr('reviews-canary-webhook', { exportTo: ['.'], subsets: subsets('v2', 'v3') }, managed, '2024-02-01T00:00:00Z');
    const appended = expectAction(planSubset(request('v4'), [user, companion], settings), 'append');
    assert.deepEqual(appended.updated.spec.subsets, subsets('v3', 'v4'));
    const tidy = expectAction(planSubset(request('v2'), [user, companion], settings), 'append');
    assert.equal(tidy.present, true, 'v2 exists: this write only tidies');
    assert.deepEqual(tidy.updated.spec.subsets, subsets('v3'));
  });

  it('the companion would become empty → delete it', () => {
    const user = dr('reviews', { subsets: subsets('v1', 'v2') }, undefined, '2024-01-01T00:00:00Z');
    const companion = dr('reviews-canary-webhook', { subsets: subsets('v2') }, managed, '2024-02-01T00:00:00Z');
    const plan = expectAction(planSubset(request('v2'), [user, companion], settings), 'delete');
    assert.equal(plan.original, companion);
  });

  it('a user rule with a workloadSelector does not merge: a plain rule is created under a free name', () => {
    const selective = dr('reviews', { workloadSelector: { matchLabels: { app: 'gw' } }, subsets: subsets('v1') });
    const plan = expectAction(planSubset(request('v2'), [selective], settings), 'create');
    assert.equal(plan.destinationRule.metadata.name, 'reviews-canary');
    assert.equal('exportTo' in plan.destinationRule.spec, false);
  });

  it('the companion name held by a rule of another host → a numbered companion', () => {
    const squatter = { ...dr('reviews-canary-webhook', {}), spec: { host: 'ratings' } } as DestinationRule;
    const plan = expectAction(planSubset(request('v2'), [gitRule(), squatter], settings), 'create');
    assert.equal(plan.destinationRule.metadata.name, 'reviews-canary-webhook-2');
  });

  it('--subset-placement=append writes the user rule, as before', () => {
    const plan = expectAction(planSubset(request('v2'), [gitRule()], { ...settings, subsetPlacement: 'append' }), 'append');
    assert.equal(plan.original.metadata.name, 'reviews');
  });
});

describe('--max-subsets', () => {
  it('refuses past the limit, with the count and how to clean up; at the limit it still appends', () => {
    const full = dr('reviews-canary-webhook', { subsets: subsets(...Array.from({ length: 64 }, (_, i) => `v${i + 10}`)) }, managed);
    const user = dr('reviews', { subsets: subsets('v1') }, undefined, '2000-01-01T00:00:00Z');
    const plan = expectAction(planSubset(request('v2'), [user, full], settings), 'refuse');
    assert.equal(
      plan.reason,
      'DestinationRule default/reviews-canary-webhook already holds 64 subsets, the most the webhook keeps in one rule (--max-subsets=64); ' +
        'remove the subsets of versions no longer deployed (kubectl edit destinationrule -n default reviews-canary-webhook) and apply again',
    );
    expectAction(planSubset(request('v2'), [user, full], { ...settings, maxSubsets: 65 }), 'append');
    expectAction(planSubset(request('v10'), [user, full], settings), 'none');
  });

  it('10,000 versions of one service through the memory store stop at the limit', async () => {
    const { MemoryStore } = await import('../src/store/memory-store.js');
    const store = new MemoryStore(settings);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const result = await store.ensureSubset(request(`v${i}`), Date.now() + 1_000);
      outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(outcomes), { created: 1, appended: 63, refused: 10_000 - 64 });
    assert.equal(store.list()[0]?.spec.subsets?.length, 64);
  });
});
