// Istio's same-host merge (src/rules/merge.ts), case by case as
// pilot/pkg/model/destination_rule.go (mergeDestinationRule, enhanced merge
// on) and pilot/pkg/model/sidecar.go (which merged rule a proxy uses) decide.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appliedSubsets, catchAll, consolidate, separateRuleHint } from '../src/rules/merge.js';
import { validateVirtualService } from '../src/rules/validate.js';
import { defaultRuleSettings, type DestinationRule } from '../src/rules/types.js';

interface Spec {
  subsets?: string[];
  exportTo?: string[];
  selector?: Record<string, string>;
  trafficPolicy?: unknown;
  created?: string;
}

function dr(name: string, spec: Spec = {}): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: 'default', ...(spec.created ? { creationTimestamp: spec.created } : {}) },
    spec: {
      host: 'reviews',
      ...(spec.exportTo ? { exportTo: spec.exportTo } : {}),
      ...(spec.selector ? { workloadSelector: { matchLabels: spec.selector } } : {}),
      ...(spec.trafficPolicy ? { trafficPolicy: spec.trafficPolicy } : {}),
      subsets: (spec.subsets ?? []).map((s) => ({ name: s, labels: { version: `${name}-${s}` } })),
    },
  };
}

const names = (rules: readonly DestinationRule[]): string[] => rules.map((r) => r.metadata.name);
const applied = (rules: DestinationRule[]): string[] => [...appliedSubsets(rules).keys()];
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';

describe('Istio same-host merge (enhanced merge on)', () => {
  const table: Array<{ name: string; rules: DestinationRule[]; groups: string[][]; applied: string[] }> = [
    {
      name: 'no exportTo on either: merged, subsets concatenated',
      rules: [dr('user', { subsets: ['v1'], created: T1 }), dr('companion', { subsets: ['v2'], created: T2 })],
      groups: [['user', 'companion']],
      applied: ['v1', 'v2'],
    },
    {
      name: 'equal exportTo sets, written in another order: merged',
      rules: [dr('user', { subsets: ['v1'], exportTo: ['.', 'shop'], created: T1 }), dr('companion', { subsets: ['v2'], exportTo: ['shop', '.'], created: T2 })],
      groups: [['user', 'companion']],
      applied: ['v1', 'v2'],
    },
    {
      name: 'different exportTo: kept apart; a proxy uses the last rule without a selector',
      rules: [dr('user', { subsets: ['v1'], exportTo: ['.'], created: T1 }), dr('companion', { subsets: ['v2'], exportTo: ['*'], created: T2 })],
      groups: [['user'], ['companion']],
      applied: ['v2'],
    },
    {
      name: 'none written vs "*" written: different sets, kept apart',
      rules: [dr('user', { subsets: ['v1'], created: T1 }), dr('companion', { subsets: ['v2'], exportTo: ['*'], created: T2 })],
      groups: [['user'], ['companion']],
      applied: ['v2'],
    },
    {
      name: 'a later exportTo that is a superset of a non-empty earlier one: merged into it',
      rules: [dr('user', { subsets: ['v1'], exportTo: ['.'], created: T1 }), dr('wider', { subsets: ['v2'], exportTo: ['.', 'shop'], created: T2 })],
      groups: [['user', 'wider']],
      applied: ['v1', 'v2'],
    },
    {
      name: 'workloadSelector on the user rule: the companion is merged into it (same {"."} set) and no rule applies to other workloads',
      rules: [dr('user', { subsets: ['v1'], exportTo: ['.'], selector: { app: 'gateway' }, created: T1 }), dr('companion', { subsets: ['v2'], exportTo: ['.'], created: T2 })],
      groups: [['user', 'companion']],
      applied: [],
    },
    {
      name: 'workloadSelector on the user rule, companion exported elsewhere: kept apart, only the companion applies to all',
      rules: [dr('user', { subsets: ['v1'], selector: { app: 'gateway' }, created: T1 }), dr('companion', { subsets: ['v2'], created: T2 })],
      groups: [['user'], ['companion']],
      applied: ['v2'],
    },
    {
      name: 'two workloadSelectors that differ: kept apart',
      rules: [dr('a', { subsets: ['v1'], selector: { app: 'a' } }), dr('b', { subsets: ['v2'], selector: { app: 'b' } })],
      groups: [['a'], ['b']],
      applied: [],
    },
    {
      name: 'two equal workloadSelectors: merged',
      rules: [dr('a', { subsets: ['v1'], selector: { app: 'a' } }), dr('b', { subsets: ['v2'], selector: { app: 'a' } })],
      groups: [['a', 'b']],
      applied: [],
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      // Input order must not matter: Istio sorts by selector, creation time, name.
      for (const rules of [row.rules, [...row.rules].reverse()]) {
        assert.deepEqual(consolidate(rules).map((group) => names(group.from)), row.groups);
        assert.deepEqual(applied(rules), row.applied);
      }
    });
  }

  it('duplicate subset names: the older rule\'s definition wins', () => {
    const rules = [dr('new', { subsets: ['v2', 'v1'], created: T2 }), dr('old', { subsets: ['v1'], created: T1 })];
    const subsets = appliedSubsets(rules);
    assert.deepEqual([...subsets.keys()], ['v1', 'v2']);
    assert.equal(subsets.get('v1')?.rule.metadata.name, 'old');
    assert.deepEqual(subsets.get('v1')?.labels, { version: 'old-v1' });
  });

  it('top-level trafficPolicy: the first one wins; a later rule fills it only when the first has none', () => {
    const tls = { tls: { mode: 'ISTIO_MUTUAL' } };
    const lb = { loadBalancer: { simple: 'LEAST_REQUEST' } };
    assert.deepEqual(catchAll(consolidate([dr('a', { trafficPolicy: tls, created: T1 }), dr('b', { trafficPolicy: lb, created: T2 })]))?.trafficPolicy, tls);
    assert.deepEqual(catchAll(consolidate([dr('a', { created: T1 }), dr('b', { trafficPolicy: lb, created: T2 })]))?.trafficPolicy, lb);
  });

  it('explains why a same-host rule that defines the subset does not count', () => {
    const describe = (rule: DestinationRule): string => `default/${rule.metadata.name}`;
    const user = dr('reviews', { subsets: ['v1'], exportTo: ['.'], created: T1 });
    const stale = dr('reviews-canary-webhook', { subsets: ['v2'], exportTo: ['*'], created: T2 });
    assert.equal(
      separateRuleHint([stale, user], 'v1', describe),
      'DestinationRule default/reviews defines it but Istio does not merge it with default/reviews-canary-webhook: their exportTo differ (["."] vs ["*"])',
    );
    assert.equal(separateRuleHint([stale, user], 'v3', describe), undefined);
  });
});

describe('validation counts a companion subset exactly when Istio merges it', () => {
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace: 'default' },
    spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 90 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 10 }] }] },
  };
  const check = (rules: DestinationRule[]): string[] =>
    validateVirtualService(vs, rules, { namespace: 'default', settings: defaultRuleSettings }).problems.map((p) => p.message);

  it('equal exportTo: 90/10 to v1 (user rule) and v2 (companion) is allowed', () => {
    assert.deepEqual(check([dr('reviews', { subsets: ['v1'], exportTo: ['.'], created: T1 }), dr('reviews-canary-webhook', { subsets: ['v2'], exportTo: ['.'], created: T2 })]), []);
  });

  it('a companion whose exportTo no longer equals the user rule\'s does not count, and the denial says why', () => {
    // The user rule re-applied from Git later with another exportTo: Istio keeps the two apart and a
    // proxy uses the newer one (sidecar.go's catch-all), so the companion's v2 is gone.
    const later = check([dr('reviews', { subsets: ['v1'], exportTo: ['*'], created: T2 }), dr('reviews-canary-webhook', { subsets: ['v2'], exportTo: ['.'], created: T1 })]);
    assert.deepEqual(later, [
      'subset "v2" of host reviews.default.svc.cluster.local is not defined; DestinationRule default/reviews defines v1; ' +
        'DestinationRule default/reviews-canary-webhook defines it but Istio does not merge it with default/reviews: their exportTo differ (["."] vs ["*"])',
    ]);
  });

  it('the other way round (the companion newer), it is the user rule\'s subsets Istio stops using', () => {
    const problems = check([dr('reviews', { subsets: ['v1'], exportTo: ['.'], created: T1 }), dr('reviews-canary-webhook', { subsets: ['v2'], exportTo: ['*'], created: T2 })]);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.equal(
      problems[0],
      'subset "v1" of host reviews.default.svc.cluster.local is not defined; DestinationRule default/reviews-canary-webhook defines v2; ' +
        'DestinationRule default/reviews defines it but Istio does not merge it with default/reviews-canary-webhook: their exportTo differ (["."] vs ["*"])',
    );
  });
});
