import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  hostMatches,
  isVisibleTo,
  matchingPatterns,
  mergedSubsets,
  fullServiceName,
  namespaceOfHost,
  resolveHost,
  resolvedHostOf,
  selectDestinationRules,
} from '../src/rules/hosts.js';
import { defaultRuleSettings, type DestinationRule } from '../src/rules/types.js';

const settings = defaultRuleSettings;

function dr(namespace: string, name: string, host: string, subsets: string[] = [], exportTo?: string[]): DestinationRule {
  return {
    metadata: { name, namespace },
    spec: { host, subsets: subsets.map((subset) => ({ name: subset, labels: { version: subset } })), ...(exportTo ? { exportTo } : {}) },
  };
}

const id = (rule: DestinationRule): string => `${rule.metadata.namespace}/${rule.metadata.name}`;

// Istio's ResolveShortnameToFQDN (istio/istio pkg/config/model.go): only a
// dot-less name is expanded; `*`, IP addresses and dotted names are literal.
describe('resolveHost', () => {
  const cases: Array<[host: string, namespace: string, expected: string]> = [
    ['reviews', 'default', 'reviews.default.svc.cluster.local'],
    ['reviews', 'prod', 'reviews.prod.svc.cluster.local'],
    // Turn-1 SPEC expanded these two; Istio does not.
    ['reviews.prod', 'default', 'reviews.prod'],
    ['reviews.prod.svc', 'default', 'reviews.prod.svc'],
    ['reviews.prod.svc.cluster.local', 'default', 'reviews.prod.svc.cluster.local'],
    ['Reviews.Prod.SVC.Cluster.Local', 'default', 'reviews.prod.svc.cluster.local'],
    ['  reviews  ', 'default', 'reviews.default.svc.cluster.local'],
    ['api.example.com', 'default', 'api.example.com'],
    ['www.googleapis.com', 'default', 'www.googleapis.com'],
    ['a.b.c.d.example.com', 'default', 'a.b.c.d.example.com'],
    // Three labels whose last is not `svc` is an external name, not a service.
    ['reviews.prod.cluster', 'default', 'reviews.prod.cluster'],
    ['*', 'default', '*'],
    ['', 'default', ''],
    ['*.prod.svc.cluster.local', 'default', '*.prod.svc.cluster.local'],
    ['*.prod', 'default', '*.prod'],
    ['*.prod.svc', 'default', '*.prod.svc'],
    ['*.local', 'istio-system', '*.local'],
    ['*.example.com', 'default', '*.example.com'],
    // The cluster-domain suffix is whole, even when it is not `.svc.` shaped.
    ['cluster.local', 'default', 'cluster.local'],
    ['10.0.0.1', 'default', '10.0.0.1'],
    ['fd00::1', 'default', 'fd00::1'],
  ];
  for (const [host, namespace, expected] of cases) {
    it(`${JSON.stringify(host)} in ${namespace} → ${expected}`, () => {
      assert.equal(resolveHost(host, namespace, 'cluster.local'), expected);
    });
  }

  it('uses the configured cluster domain', () => {
    assert.equal(resolveHost('reviews', 'default', 'corp.example'), 'reviews.default.svc.corp.example');
    assert.equal(resolveHost('reviews.prod.svc', 'default', 'corp.example'), 'reviews.prod.svc');
    assert.equal(resolveHost('reviews.prod.svc.corp.example', 'default', 'corp.example'), 'reviews.prod.svc.corp.example');
    // With another domain, a cluster.local name is just some external name.
    assert.equal(resolveHost('reviews.prod.svc.cluster.local', 'default', 'corp.example'), 'reviews.prod.svc.cluster.local');
  });
});

describe('fullServiceName (what a `name.ns` or `name.ns.svc` was probably meant as)', () => {
  const cases: Array<[string, string | undefined]> = [
    ['reviews.prod', 'reviews.prod.svc.cluster.local'],
    ['reviews.prod.svc', 'reviews.prod.svc.cluster.local'],
    [' Reviews.Prod.SVC ', 'reviews.prod.svc.cluster.local'],
    ['reviews', undefined],
    ['reviews.prod.svc.cluster.local', undefined],
    ['api.example.com', undefined],
    ['*.prod', undefined],
    ['*.prod.svc', undefined],
    ['10.0.0.1', undefined],
    ['fd00::1', undefined],
    ['reviews.', undefined],
    ['.prod', undefined],
  ];
  for (const [host, expected] of cases) {
    it(`${JSON.stringify(host)} → ${String(expected)}`, () => assert.equal(fullServiceName(host, 'cluster.local'), expected));
  }
  it('uses the configured cluster domain', () => {
    assert.equal(fullServiceName('reviews.prod', 'corp.example'), 'reviews.prod.svc.corp.example');
  });
});

describe('namespaceOfHost', () => {
  const cases: Array<[string, string | undefined]> = [
    ['reviews.prod.svc.cluster.local', 'prod'],
    ['reviews.default.svc.cluster.local', 'default'],
    ['*.prod.svc.cluster.local', undefined],
    ['a.b.prod.svc.cluster.local', undefined],
    ['prod.svc.cluster.local', undefined],
    ['api.example.com', undefined],
    ['*', undefined],
  ];
  for (const [fqdn, expected] of cases) {
    it(`${fqdn} → ${String(expected)}`, () => assert.equal(namespaceOfHost(fqdn, 'cluster.local'), expected));
  }
});

describe('hostMatches and matchingPatterns', () => {
  const fqdn = 'reviews.prod.svc.cluster.local';
  const cases: Array<[pattern: string, fqdn: string, expected: boolean]> = [
    [fqdn, fqdn, true],
    ['*', fqdn, true],
    ['*.prod.svc.cluster.local', fqdn, true],
    ['*.svc.cluster.local', fqdn, true],
    ['*.cluster.local', fqdn, true],
    ['*.default.svc.cluster.local', fqdn, false],
    ['*.reviews.prod.svc.cluster.local', fqdn, false],
    ['ratings.prod.svc.cluster.local', fqdn, false],
    // A wildcard needs at least one label in its place.
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', true],
    // `*.rod...` must not match `prod...`: suffixes match on label boundaries.
    ['*.rod.svc.cluster.local', fqdn, false],
  ];
  for (const [pattern, host, expected] of cases) {
    it(`${pattern} ${expected ? 'covers' : 'does not cover'} ${host}`, () => assert.equal(hostMatches(pattern, host), expected));
  }

  it('lists patterns most specific first, without duplicates', () => {
    assert.deepEqual(matchingPatterns(fqdn), [
      fqdn,
      '*.prod.svc.cluster.local',
      '*.svc.cluster.local',
      '*.cluster.local',
      '*.local',
      '*',
    ]);
    assert.deepEqual(matchingPatterns('*'), ['*']);
    assert.deepEqual(matchingPatterns('*.example.com'), ['*.example.com', '*.com', '*']);
  });

  it('agrees with hostMatches: every listed pattern covers the name', () => {
    for (const host of [fqdn, 'api.example.com', 'a']) {
      for (const pattern of matchingPatterns(host)) assert.ok(hostMatches(pattern, host), `${pattern} vs ${host}`);
    }
  });
});

describe('resolvedHostOf', () => {
  it('resolves against the rule’s own namespace', () => {
    assert.equal(resolvedHostOf(dr('prod', 'r', 'reviews'), 'cluster.local'), 'reviews.prod.svc.cluster.local');
  });
  it('turns a junk host into one that matches nothing instead of throwing', () => {
    const junk = { metadata: { name: 'x', namespace: 'default' }, spec: { host: 42 } } as unknown as DestinationRule;
    assert.equal(resolvedHostOf(junk, 'cluster.local'), '');
    const noSpec = { metadata: { name: 'x', namespace: 'default' } } as unknown as DestinationRule;
    assert.equal(resolvedHostOf(noSpec, 'cluster.local'), '');
  });
});

describe('isVisibleTo', () => {
  const cases: Array<[rule: DestinationRule, namespace: string, expected: boolean]> = [
    [dr('default', 'r', 'reviews'), 'default', true],
    [dr('prod', 'r', 'reviews'), 'default', true],
    [dr('prod', 'r', 'reviews', [], []), 'default', true],
    [dr('prod', 'r', 'reviews', [], ['*']), 'default', true],
    [dr('prod', 'r', 'reviews', [], ['.']), 'default', false],
    [dr('prod', 'r', 'reviews', [], ['.']), 'prod', true],
    [dr('prod', 'r', 'reviews', [], ['default']), 'default', true],
    [dr('prod', 'r', 'reviews', [], ['staging']), 'default', false],
    [dr('prod', 'r', 'reviews', [], ['.', 'default']), 'default', true],
    // Own namespace sees it even when exportTo names only others.
    [dr('prod', 'r', 'reviews', [], ['default']), 'prod', true],
    // SPEC §4: the root namespace is visible to all, whatever its exportTo.
    [dr('istio-system', 'r', 'reviews', [], ['.']), 'default', true],
    // `~`: exported nowhere, so Istio applies it to nobody.
    [dr('prod', 'r', 'reviews', [], ['~']), 'default', false],
    [dr('prod', 'r', 'reviews', [], ['~']), 'prod', false],
  ];
  cases.forEach(([rule, namespace, expected], index) => {
    it(`#${index}: ${id(rule)} exportTo ${JSON.stringify(rule.spec.exportTo ?? 'unset')} from ${namespace} → ${expected}`, () => {
      assert.equal(isVisibleTo(rule, namespace, 'istio-system'), expected);
    });
  });
});

describe('selectDestinationRules', () => {
  const fqdn = 'reviews.prod.svc.cluster.local';
  const select = (from: string, rules: DestinationRule[], host = fqdn) => selectDestinationRules(host, from, rules, settings);
  const chosen = (from: string, rules: DestinationRule[], host = fqdn) => select(from, rules, host)?.rules.map(id);

  it('finds nothing among no rules or unrelated hosts', () => {
    assert.equal(select('default', []), undefined);
    assert.equal(select('default', [dr('prod', 'ratings', 'ratings'), dr('default', 'reviews', 'reviews')]), undefined);
  });

  it('matches a short host in the service namespace', () => {
    assert.deepEqual(select('default', [dr('prod', 'reviews', 'reviews')]), {
      host: fqdn,
      namespace: 'prod',
      rules: [dr('prod', 'reviews', 'reviews')],
    });
  });

  it('a wildcard *.prod.svc.cluster.local matches reviews in prod, not the literal host reviews.prod', () => {
    const wild = dr('prod', 'wild', '*.prod.svc.cluster.local');
    assert.deepEqual(select('default', [wild], resolveHost('reviews', 'prod', 'cluster.local'))?.rules, [wild]);
    assert.equal(select('default', [wild], resolveHost('reviews.prod', 'default', 'cluster.local')), undefined);
  });

  it('a wildcard is taken as written: *.prod.svc does not match reviews.prod.svc.cluster.local', () => {
    assert.equal(select('default', [dr('prod', 'wild', '*.prod.svc', ['v1'])]), undefined);
    assert.equal(select('default', [dr('default', 'wild', '*.default.svc', ['v1'])], 'reviews.default.svc.cluster.local'), undefined);
  });

  it('the most specific host wins within a namespace, whatever the input order', () => {
    const rules = [dr('prod', 'star', '*'), dr('prod', 'svc', '*.svc.cluster.local'), dr('prod', 'ns', '*.prod.svc.cluster.local'), dr('prod', 'exact', 'reviews')];
    assert.deepEqual(chosen('default', rules), ['prod/exact']);
    assert.deepEqual(chosen('default', rules.slice(0, 3)), ['prod/ns']);
    assert.deepEqual(chosen('default', rules.slice(0, 2).reverse()), ['prod/svc']);
    assert.deepEqual(chosen('default', rules.slice(0, 1)), ['prod/star']);
  });

  it('the VirtualService namespace beats the service namespace, even with a less specific host', () => {
    const rules = [dr('prod', 'exact', 'reviews'), dr('default', 'wild', '*.prod.svc.cluster.local')];
    assert.deepEqual(chosen('default', rules), ['default/wild']);
    assert.deepEqual(chosen('prod', rules), ['prod/exact']);
  });

  it('the service namespace beats the root namespace', () => {
    const rules = [dr('istio-system', 'mesh', 'reviews.prod.svc.cluster.local'), dr('prod', 'exact', 'reviews')];
    assert.deepEqual(chosen('default', rules), ['prod/exact']);
    assert.deepEqual(chosen('default', rules.slice(0, 1)), ['istio-system/mesh']);
  });

  it('skips a rule hidden by exportTo and falls back to the next namespace', () => {
    const rules = [dr('prod', 'private', 'reviews', [], ['.']), dr('istio-system', 'mesh', '*')];
    assert.deepEqual(chosen('default', rules), ['istio-system/mesh']);
    assert.deepEqual(chosen('prod', rules), ['prod/private']);
  });

  it('ignores rules in a third namespace for an in-cluster host', () => {
    assert.equal(select('default', [dr('other', 'reviews', 'reviews.prod.svc.cluster.local')]), undefined);
  });

  it('merges rules of one namespace with the same resolved host', () => {
    const rules = [dr('prod', 'a', 'reviews', ['v1']), dr('prod', 'b', 'reviews.prod.svc.cluster.local', ['v2']), dr('prod', 'c', '*', ['v3'])];
    const selected = select('default', rules);
    assert.ok(selected);
    assert.deepEqual(selected.rules.map(id), ['prod/a', 'prod/b']);
    assert.deepEqual([...mergedSubsets(selected).keys()], ['v1', 'v2']);
  });

  it('resolves each rule’s short host against its own namespace, not the caller’s', () => {
    // `reviews` in default means reviews.default, which is not the target.
    assert.equal(select('default', [dr('default', 'reviews', 'reviews')]), undefined);
  });

  it('finds an external host’s rule in any namespace (the ServiceEntry’s is unknown), most specific first', () => {
    const host = 'api.example.com';
    const rules = [dr('egress-b', 'wild', '*.example.com'), dr('egress-a', 'wild', '*'), dr('egress-c', 'exact', 'api.example.com')];
    assert.deepEqual(chosen('default', rules, host), ['egress-c/exact']);
    assert.deepEqual(chosen('default', rules.slice(0, 2), host), ['egress-b/wild']);
    // Ties go to the first namespace by name, not to input order.
    assert.deepEqual(chosen('default', [dr('zz', 'x', host), dr('aa', 'y', host)], host), ['aa/y']);
    // The caller's own namespace still comes first.
    assert.deepEqual(chosen('default', [...rules, dr('default', 'star', '*')], host), ['default/star']);
    // And hidden rules stay hidden.
    assert.equal(select('default', [dr('egress', 'x', host, [], ['.'])], host), undefined);
  });

  it('does not crash on junk candidates', () => {
    const junk = [{ metadata: {}, spec: {} }, { metadata: { name: 'x', namespace: 'prod' }, spec: { host: ['reviews'] } }] as unknown as DestinationRule[];
    assert.equal(select('default', junk), undefined);
  });
});

describe('mergedSubsets', () => {
  it('first definition of a name wins and junk subsets are skipped', () => {
    const first = dr('prod', 'a', 'reviews', ['v1', 'v2']);
    const second = dr('prod', 'b', 'reviews', ['v2', 'v3']);
    (second.spec.subsets as unknown[]).push(null, { name: 7 }, { name: '' });
    const merged = mergedSubsets({ host: 'reviews.prod.svc.cluster.local', namespace: 'prod', rules: [first, second] });
    assert.deepEqual([...merged.keys()], ['v1', 'v2', 'v3']);
    assert.equal(merged.get('v2')?.rule, first);
    assert.equal(merged.get('v3')?.rule, second);
    assert.deepEqual(merged.get('v3')?.labels, { version: 'v3' });
  });
});

