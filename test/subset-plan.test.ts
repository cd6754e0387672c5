import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { diffPatch } from '../src/rules/patch.js';
import { planSubset } from '../src/rules/subset-plan.js';
import { defaultRuleSettings } from '../src/rules/types.js';
import type { DestinationRule, SubsetPlan, SubsetRequest } from '../src/rules/types.js';

// These are the `--subset-placement=append` tests (the old behaviour); companion placement: test/companion-plan.test.ts.
const settings = { ...defaultRuleSettings, subsetPlacement: 'append' as const };
const CORPUS = '/work/shared/corpus/istio-samples';

/** Bookinfo's DestinationRules as `kubectl apply -n default` would store them. */
function bookinfoRules(file: string): DestinationRule[] {
  return parseAllDocuments(readFileSync(`${CORPUS}/${file}`, 'utf8'))
    .map((doc) => doc.toJS() as DestinationRule)
    .filter((doc) => doc?.kind === 'DestinationRule')
    .map((rule) => ({ ...rule, metadata: { ...rule.metadata, namespace: 'default', resourceVersion: '42' } }));
}

function request(version: string, service = 'reviews', subsetName = version): SubsetRequest {
  return { namespace: 'default', service, host: `${service}.default.svc.cluster.local`, subsetName, labels: { version } };
}

function rule(name: string, host: string, extra: Partial<DestinationRule['spec']> = {}, namespace = 'default'): DestinationRule {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace }, spec: { host, ...extra } };
}

function expectAction<A extends SubsetPlan['action']>(plan: SubsetPlan, action: A): Extract<SubsetPlan, { action: A }> {
  assert.equal(plan.action, action, JSON.stringify(plan));
  for (const warning of plan.warnings) assert.ok(warning.length < 120, warning);
  return plan as Extract<SubsetPlan, { action: A }>;
}

describe('an existing rule for the host', () => {
  const rules = bookinfoRules('destination-rule-all-mtls.yaml');
  const reviews = rules.find((r) => r.metadata.name === 'reviews');

  it('Bookinfo reviews already has v2 with the same labels → none', () => {
    const plan = expectAction(planSubset(request('v2'), rules, settings), 'none');
    assert.equal(plan.destinationRule, reviews);
    assert.deepEqual(plan.warnings, []);
  });

  it('a subset of that name with other labels → none, left as it is, with a warning', () => {
    const changed = rules.map((r) => (r === reviews ? { ...r, spec: { ...r.spec, subsets: [{ name: 'v2', labels: { version: 'V2' } }] } } : r));
    const plan = expectAction(planSubset(request('v2'), changed, settings), 'none');
    assert.deepEqual(plan.destinationRule.spec.subsets, [{ name: 'v2', labels: { version: 'V2' } }]);
    assert.deepEqual(plan.warnings, ['DestinationRule default/reviews already has subset "v2" with other labels; left unchanged']);
  });

  it('extra labels on the existing subset also count as other labels', () => {
    const one = [rule('reviews', 'reviews', { subsets: [{ name: 'v2', labels: { version: 'v2', track: 'x' } }] })];
    assert.equal(expectAction(planSubset(request('v2'), one, settings), 'none').warnings.length, 1);
  });

  it('absent → append, keeping every other subset and field byte for byte', () => {
    const before = structuredClone(rules);
    const plan = expectAction(planSubset(request('v4'), rules, settings), 'append');
    assert.equal(plan.original, reviews);
    assert.deepEqual(rules, before, 'inputs untouched');
    assert.deepEqual(diffPatch(plan.original, plan.updated), [
      { op: 'add', path: '/spec/subsets/3', value: { name: 'v4', labels: { version: 'v4' } } },
    ]);
    assert.deepEqual(plan.updated.spec.trafficPolicy, { tls: { mode: 'ISTIO_MUTUAL' } });
    assert.equal(plan.updated.metadata.resourceVersion, '42');
  });

  it('creates spec.subsets when the rule has none', () => {
    const plan = expectAction(planSubset(request('v1'), [rule('reviews', 'reviews', { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } })], settings), 'append');
    assert.deepEqual(plan.updated.spec, {
      host: 'reviews',
      trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
      subsets: [{ name: 'v1', labels: { version: 'v1' } }],
    });
  });

  for (const host of ['reviews', 'reviews.default.svc.cluster.local', 'Reviews.Default.svc.cluster.local']) {
    it(`finds a rule whose host is written ${host}`, () => {
      expectAction(planSubset(request('v9'), [rule('r', host)], settings), 'append');
    });
  }

  // SPEC §4 (corrected): Istio's ResolveShortnameToFQDN expands only dot-less
  // names, so a rule written `reviews.default` applies to no service.
  for (const host of ['reviews.default', 'reviews.default.svc']) {
    it(`does not take a rule whose host is written ${host} (Istio applies it to nothing)`, () => {
      expectAction(planSubset(request('v9'), [rule('r', host)], settings), 'create');
    });
  }

  it('uses the subset name, not the version, and the version as given in labels', () => {
    const plan = expectAction(planSubset(request('1.2.3', 'reviews', '1-2-3'), [rule('reviews', 'reviews')], settings), 'append');
    assert.deepEqual(plan.updated.spec.subsets, [{ name: '1-2-3', labels: { version: '1.2.3' } }]);
  });

  it('several rules for one host: a subset in any of them counts; append goes to the oldest', () => {
    const newer = { ...rule('a-newer', 'reviews', { subsets: [{ name: 'v1', labels: { version: 'v1' } }] }) };
    newer.metadata.creationTimestamp = '2024-06-01T00:00:00Z';
    const older = rule('z-older', 'reviews.default.svc.cluster.local');
    older.metadata.creationTimestamp = '2024-01-01T00:00:00Z';
    const none = expectAction(planSubset(request('v1'), [older, newer], settings), 'none');
    assert.equal(none.destinationRule, newer);
    const append = expectAction(planSubset(request('v2'), [newer, older], settings), 'append');
    assert.equal(append.original, older);
    const tie = expectAction(planSubset(request('v2'), [rule('b', 'reviews'), rule('a', 'reviews')], settings), 'append');
    assert.equal(tie.original.metadata.name, 'a', 'same timestamp: by name');
  });
});

describe('no rule for the host → create', () => {
  it('creates <service> with the FQDN host, managed-by label and the one subset', () => {
    const plan = expectAction(planSubset(request('v2'), bookinfoRules('destination-rule-all.yaml').filter((r) => r.metadata.name !== 'reviews'), settings), 'create');
    assert.deepEqual(plan.destinationRule, {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: 'default', labels: { 'app.kubernetes.io/managed-by': 'canary-webhook' } },
      spec: { host: 'reviews.default.svc.cluster.local', subsets: [{ name: 'v2', labels: { version: 'v2' } }] },
    });
    assert.deepEqual(plan.warnings, []);
  });

  it('uses the configured managed-by label', () => {
    const custom = { ...settings, managedByLabel: 'example.com/owner', managedByValue: 'canary' };
    assert.deepEqual(expectAction(planSubset(request('v1'), [], custom), 'create').destinationRule.metadata.labels, { 'example.com/owner': 'canary' });
  });

  it('a rule for another namespace\'s host is not this host; its name is taken → <service>-canary', () => {
    const prod = rule('reviews', 'reviews.prod', { subsets: [{ name: 'v2', labels: { version: 'v2' } }] });
    assert.equal(expectAction(planSubset(request('v2'), [prod], settings), 'create').destinationRule.metadata.name, 'reviews-canary');
    const taken = [prod, rule('reviews-canary', 'ratings'), rule('reviews-canary-2', 'details')];
    assert.equal(expectAction(planSubset(request('v2'), taken, settings), 'create').destinationRule.metadata.name, 'reviews-canary-3');
  });

  it('rules of other namespaces are ignored', () => {
    const elsewhere = rule('reviews', 'reviews.default.svc.cluster.local', { subsets: [] }, 'prod');
    assert.equal(expectAction(planSubset(request('v2'), [elsewhere], settings), 'create').destinationRule.metadata.name, 'reviews');
  });

  it('copies the trafficPolicy of the most specific wildcard rule it would shadow, and says so', () => {
    const mtls = { tls: { mode: 'ISTIO_MUTUAL' } };
    const rules = [
      rule('everything', '*', { trafficPolicy: { tls: { mode: 'DISABLE' } } }),
      rule('default-mtls', '*.default.svc.cluster.local', { trafficPolicy: mtls }),
    ];
    const plan = expectAction(planSubset(request('v2'), rules, settings), 'create');
    assert.deepEqual(plan.destinationRule.spec.trafficPolicy, mtls);
    assert.notEqual(plan.destinationRule.spec.trafficPolicy, mtls, 'a copy, not shared');
    assert.deepEqual(plan.warnings, ['"reviews" copies trafficPolicy of wildcard DestinationRule default/default-mtls, which it shadows']);
  });

  it('falls back to a visible wildcard rule of the root namespace when the caller passes it', () => {
    const meshWide = rule('mesh-mtls', '*.svc.cluster.local', { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }, 'istio-system');
    const plan = expectAction(planSubset(request('v2'), [meshWide], settings), 'create');
    assert.deepEqual(plan.destinationRule.spec.trafficPolicy, { tls: { mode: 'ISTIO_MUTUAL' } });
    assert.match(plan.warnings[0] ?? '', /istio-system\/mesh-mtls/);
  });

  it('a wildcard rule without trafficPolicy earns nothing', () => {
    const plan = expectAction(planSubset(request('v2'), [rule('w', '*.default.svc.cluster.local')], settings), 'create');
    assert.equal(plan.destinationRule.spec.trafficPolicy, undefined);
    assert.deepEqual(plan.warnings, []);
  });
});

describe('warnings stay under 120 characters', () => {
  it('with 63-character service, namespace and subset names', () => {
    const svc = 's'.repeat(63);
    const ns = 'n'.repeat(63);
    const long: SubsetRequest = { namespace: ns, service: svc, host: `${svc}.${ns}.svc.cluster.local`, subsetName: 'v'.repeat(63), labels: { version: 'V'.repeat(63) } };
    const wildcard = rule('w'.repeat(63), `*.${ns}.svc.cluster.local`, { trafficPolicy: {} }, ns);
    expectAction(planSubset(long, [wildcard], settings), 'create');
    const conflicting = rule(svc, svc, { subsets: [{ name: 'v'.repeat(63), labels: {} }] }, ns);
    expectAction(planSubset(long, [conflicting], settings), 'none');
    expectAction(planSubset(long, [rule(svc, svc, { subsets: {} as [] }, ns)], settings), 'none');
  });
});

describe('malformed rules never throw', () => {
  const junk = [
    null,
    'reviews',
    { metadata: null },
    { metadata: { name: 'no-spec', namespace: 'default' } },
    { metadata: { name: 'host-number', namespace: 'default' }, spec: { host: 7 } },
  ] as unknown as DestinationRule[];

  it('ignores rules it cannot read, but still avoids their names', () => {
    const plan = expectAction(planSubset(request('v2', 'no-spec'), junk, settings), 'create');
    assert.equal(plan.destinationRule.metadata.name, 'no-spec-canary');
  });

  it('spec.subsets not a list → none with a warning, nothing overwritten', () => {
    const broken = rule('reviews', 'reviews', { subsets: 'v1' as unknown as [] });
    const plan = expectAction(planSubset(request('v2'), [...junk, broken], settings), 'none');
    assert.match(plan.warnings[0] ?? '', /spec\.subsets is not a list/);
  });

  it('malformed subset entries are skipped when searching and kept when appending', () => {
    const odd = rule('reviews', 'reviews', { subsets: [null, { labels: {} }, { name: 'v1', labels: null }] as unknown as [] });
    const plan = expectAction(planSubset(request('v2'), [odd], settings), 'append');
    assert.deepEqual(plan.updated.spec.subsets, [null, { labels: {} }, { name: 'v1', labels: null }, { name: 'v2', labels: { version: 'v2' } }]);
    const conflict = expectAction(planSubset(request('v1'), [odd], settings), 'none');
    assert.equal(conflict.warnings.length, 1, 'labels: null is not {version: v1}');
  });

  it('a rule with no metadata.namespace is taken as the request namespace (offline input)', () => {
    const offline = { metadata: { name: 'reviews' }, spec: { host: 'reviews' } } as unknown as DestinationRule;
    expectAction(planSubset(request('v2'), [offline], settings), 'append');
  });
});
