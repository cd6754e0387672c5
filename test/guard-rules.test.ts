// The guard's pure rules (SPEC §9): which references resolve before a
// DestinationRule change and not after, and which subsets lose their last
// Deployment; each with the text a user reads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deploymentRemovalFindings, destinationRuleChangeFindings, formatFindings, routeShare, type GuardVirtualService } from '../src/rules/guard.js';
import { meshClaimWarnings } from '../src/rules/mesh-hosts.js';
import { defaultRuleSettings, type DestinationRule } from '../src/rules/types.js';
import { HostIndex } from '../src/store/host-index.js';
import { deployment, virtualService } from './support/guard-fixtures.js';
import { rule } from './support/kube-fixtures.js';

const settings = defaultRuleSettings;
const lookupOf = (rules: DestinationRule[]) => {
  const index = new HostIndex(settings.clusterDomain);
  for (const item of rules) index.upsert(item);
  return (host: string) => index.candidatesForHost(host);
};
const vs = (...args: Parameters<typeof virtualService>) => virtualService(...args) as unknown as GuardVirtualService;
const canary = vs('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]);
const reviewsRule = rule('shop', 'reviews', 'reviews', ['v1', 'v2']);
const messages = (findings: { message: string }[]) => findings.map((finding) => finding.message);

describe('guard: DestinationRule change', () => {
  it('denies an UPDATE that drops a routed subset, naming VirtualService, path and weight', () => {
    const after = rule('shop', 'reviews', 'reviews', ['v1']);
    const findings = destinationRuleChangeFindings({ before: reviewsRule, after }, [canary], lookupOf([reviewsRule]), settings);
    assert.deepEqual(messages(findings), [
      'subset "v2" is still routed by VirtualService shop/reviews (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first',
    ]);
    assert.equal(findings[0]!.severity, 'deny');
    assert.equal(findings[0]!.namespace, 'shop');
  });

  it('denies a DELETE for every reference it breaks', () => {
    const findings = destinationRuleChangeFindings({ before: reviewsRule, after: undefined }, [canary], lookupOf([reviewsRule]), settings);
    assert.equal(formatFindings(findings), [
      'subset "v1" is still routed by VirtualService shop/reviews (spec.http[0].route[0], weight 90); shift its traffic and remove the reference first',
      'subset "v2" is still routed by VirtualService shop/reviews (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first',
    ].join('\n'));
  });

  it('counts the companion rule: deleting it breaks the subsets only it defines', () => {
    const user = rule('shop', 'reviews', 'reviews', ['v1']);
    const companion = rule('shop', 'reviews-canary-webhook', 'reviews.shop.svc.cluster.local', ['v2'], { exportTo: undefined });
    const findings = destinationRuleChangeFindings({ before: companion, after: undefined }, [canary], lookupOf([user, companion]), settings);
    assert.deepEqual(messages(findings), [
      'subset "v2" is still routed by VirtualService shop/reviews (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first',
    ]);
  });

  it('admits a drop that another merged rule of the namespace still covers', () => {
    const user = rule('shop', 'reviews', 'reviews', ['v1', 'v2']);
    const companion = rule('shop', 'reviews-canary-webhook', 'reviews', ['v2']);
    assert.deepEqual(destinationRuleChangeFindings({ before: companion, after: undefined }, [canary], lookupOf([user, companion]), settings), []);
  });

  it('does not block an unrelated edit over a reference that was already broken', () => {
    const broken = vs('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v3', weight: 10 }]);
    const after = { ...reviewsRule, spec: { ...reviewsRule.spec, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } };
    assert.deepEqual(destinationRuleChangeFindings({ before: reviewsRule, after }, [broken], lookupOf([reviewsRule]), settings), []);
  });

  it('sees visibility: an exportTo that stops covering the VirtualService namespace breaks its routes', () => {
    const frontend = vs('web', 'to-reviews', 'reviews.shop.svc.cluster.local', [{ subset: 'v1' }]);
    const after = rule('shop', 'reviews', 'reviews', ['v1', 'v2'], { exportTo: ['.'] });
    assert.deepEqual(messages(destinationRuleChangeFindings({ before: reviewsRule, after }, [frontend], lookupOf([reviewsRule]), settings)), [
      'subset "v1" is still routed by VirtualService web/to-reviews (spec.http[0].route[0], its only destination); shift its traffic and remove the reference first',
    ]);
  });

  it('names mirrors as mirrors', () => {
    const mirrored = vs('shop', 'reviews', 'reviews', [{ subset: 'v1' }], {});
    (mirrored.spec as { http: Array<Record<string, unknown>> }).http[0]!.mirror = { host: 'reviews', subset: 'v2' };
    const after = rule('shop', 'reviews', 'reviews', ['v1']);
    assert.deepEqual(messages(destinationRuleChangeFindings({ before: reviewsRule, after }, [mirrored], lookupOf([reviewsRule]), settings)), [
      'subset "v2" is still mirrored to by VirtualService shop/reviews (spec.http[0].mirror); remove the mirror first',
    ]);
  });

  it('never finds anything when subsets are only added (property)', () => {
    const names = fc.uniqueArray(fc.constantFrom('v1', 'v2', 'v3', 'v4', 'canary'), { maxLength: 5 });
    fc.assert(
      fc.property(names, names, fc.array(fc.constantFrom('v1', 'v2', 'v3', 'v4', 'canary'), { minLength: 1, maxLength: 4 }), (kept, added, routed) => {
        const before = rule('shop', 'reviews', 'reviews', kept);
        const after = rule('shop', 'reviews', 'reviews', [...new Set([...kept, ...added])]);
        const service = vs('shop', 'reviews', 'reviews', routed.map((subset, i) => ({ subset, weight: i === 0 ? 100 : 0 })));
        assert.deepEqual(destinationRuleChangeFindings({ before, after }, [service], lookupOf([before]), settings), []);
        // And removing is flagged exactly for the routed names that existed.
        const removed = destinationRuleChangeFindings({ before, after: rule('shop', 'reviews', 'reviews', []) }, [service], lookupOf([before]), settings);
        assert.equal(removed.length, routed.filter((subset) => kept.includes(subset)).length);
      }),
    );
  });
});

describe('guard: Deployment going away', () => {
  const v1 = deployment('shop', 'reviews', 'v1');
  const v2 = deployment('shop', 'reviews', 'v2');
  const run = (service: GuardVirtualService, others: unknown[], scaleToZero = false) =>
    deploymentRemovalFindings({
      deployment: v2,
      namespace: 'shop',
      others,
      virtualServices: () => [service],
      lookup: lookupOf([reviewsRule]),
      settings,
      scaleToZero,
    });

  it('denies deleting the last Deployment behind a subset that gets weight 10', () => {
    const findings = run(canary, [v1, v2]);
    assert.deepEqual(findings.map((f) => [f.severity, f.message]), [[
      'deny',
      'Deployment shop/reviews-v2 is the last one backing subset "v2" of reviews.shop.svc.cluster.local, and VirtualService shop/reviews sends it 10% of traffic (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first',
    ]]);
  });

  it('warns only when the subset gets weight 0', () => {
    const shifted = vs('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 100 }, { subset: 'v2', weight: 0 }]);
    assert.deepEqual(run(shifted, [v1, v2]).map((f) => [f.severity, f.message]), [[
      'warn',
      'Deployment shop/reviews-v2 is the last one backing subset "v2" of reviews.shop.svc.cluster.local; VirtualService shop/reviews still names it with weight 0 (spec.http[0].route[1]); remove the reference',
    ]]);
  });

  it('says nothing when another Deployment of the service still backs the subset', () => {
    const twin = { ...deployment('shop', 'reviews', 'v2'), metadata: { name: 'reviews-v2-blue', namespace: 'shop', labels: { app: 'reviews', version: 'v2', 'canary-webhook/enabled': 'true' } } };
    assert.deepEqual(run(canary, [v1, v2, twin]), []);
  });

  it('does not count a Deployment of another app with the same version label', () => {
    assert.equal(run(canary, [v1, v2, deployment('shop', 'ratings', 'v2')]).length, 1);
  });

  it('turns scale-to-zero into a warning', () => {
    assert.deepEqual(run(canary, [v1, v2], true).map((f) => [f.severity, f.message]), [[
      'warn',
      'Deployment shop/reviews-v2 scaled to 0 leaves subset "v2" of reviews.shop.svc.cluster.local with no pods while VirtualService shop/reviews sends it 10% of traffic (spec.http[0].route[1]); shift its traffic first',
    ]]);
  });

  it('denies when the subset is the route\'s only destination, whatever its weight', () => {
    const only = vs('shop', 'reviews', 'reviews', [{ subset: 'v2' }]);
    assert.match(run(only, [v1, v2])[0]!.message, /sends it 100% of traffic \(spec\.http\[0\]\.route\[0\], its only destination\)/);
  });
});

describe('routeShare', () => {
  it('reads weight, share and whether the entry is alone', () => {
    assert.deepEqual(routeShare(canary, 'spec.http[0].route[1]'), { kind: 'route', weight: 10, alone: false, percent: 10 });
    assert.deepEqual(routeShare(canary, 'spec.http[0].mirror'), { kind: 'mirror', alone: false, percent: 0 });
    assert.deepEqual(routeShare({ spec: { http: 'junk' } }, 'spec.http[0].route[0]'), { kind: 'route', weight: undefined, alone: false, percent: 0 });
  });
});

describe('mesh host claims', () => {
  it('warns when another VirtualService of the namespace claims a host for the mesh, naming it', () => {
    const other = { metadata: { name: 'reviews-old', namespace: 'shop' } };
    const warnings = meshClaimWarnings(canary, 'reviews', 'shop', (host) => (host === 'reviews.shop.svc.cluster.local' ? [other] : []), settings.clusterDomain);
    assert.deepEqual(warnings, ['spec.hosts: reviews.shop.svc.cluster.local is also a mesh host of VirtualService shop/reviews-old; sidecars use one']);
  });

  it('ignores itself and gateway-only VirtualServices', () => {
    assert.deepEqual(meshClaimWarnings(canary, 'reviews', 'shop', () => [{ metadata: { name: 'reviews', namespace: 'shop' } }], settings.clusterDomain), []);
    const edge = virtualService('shop', 'edge', 'reviews', [{ subset: 'v1' }], { gateways: ['istio-system/public'] });
    assert.deepEqual(meshClaimWarnings(edge, 'edge', 'shop', () => [{ metadata: { name: 'x', namespace: 'shop' } }], settings.clusterDomain), []);
  });
});

describe('guard: worst input', () => {
  it('stays bounded and answers cleanly for a VirtualService with 20,000 routed entries and a rule with 50,000 subsets', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => `s${i}`);
    const before = rule('shop', 'reviews', 'reviews', many);
    const service = vs('shop', 'wide', 'reviews', Array.from({ length: 20_000 }, (_, i) => ({ subset: `s${i}`, weight: i === 0 ? 100 : 0 })));
    const findings = destinationRuleChangeFindings({ before, after: undefined }, [service], lookupOf([before]), settings);
    assert.equal(findings.length, 20_000);
    const text = formatFindings(findings);
    assert.equal(text.split('\n').length, 51);
    assert.match(text, /\n\.\.\. and 19950 more$/);
  });

  it('treats junk DestinationRules and Deployments as nothing to judge, without throwing', () => {
    const junk = { metadata: { name: 'reviews', namespace: 'shop' }, spec: { host: 42, subsets: 'no' } } as unknown as DestinationRule;
    assert.deepEqual(destinationRuleChangeFindings({ before: junk, after: junk }, [canary], lookupOf([reviewsRule]), settings), []);
    for (const deploymentValue of [null, 'x', { metadata: 'x' }, { metadata: { name: 'a', labels: { app: 7 } }, spec: {} }]) {
      assert.deepEqual(deploymentRemovalFindings({ deployment: deploymentValue, namespace: 'shop', others: [null, 1, {}], virtualServices: () => [canary], lookup: lookupOf([reviewsRule]), settings, scaleToZero: false }), []);
    }
  });
});
