// SPEC §4 host resolution, as Istio's ResolveShortnameToFQDN
// (istio/istio pkg/config/model.go) does it: only a dot-less short name is
// expanded; `reviews.prod`, `reviews.prod.svc`, wildcards, IP addresses and
// external names are taken as written. One table for destination hosts, one
// for DestinationRule hosts, each with and without subsets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { defaultRuleSettings, type DestinationRule, type ValidationResult } from '../src/rules/types.js';
import { MAX_PROBLEM_LINES, validateVirtualService } from '../src/rules/validate.js';

function dr(namespace: string, name: string, host: string, subsets: string[]): DestinationRule {
  return { metadata: { name, namespace }, spec: { host, subsets: subsets.map((subset) => ({ name: subset, labels: { version: subset } })) } };
}

function routeTo(host: string, subset: string | undefined): unknown {
  return { spec: { http: [{ route: [{ destination: { host, ...(subset === undefined ? {} : { subset }) } }] }] } };
}

const render = (result: ValidationResult): { problems: string[]; warnings: string[] } => ({
  problems: result.problems.map((problem) => `${problem.kind} ${problem.path}: ${problem.message}`),
  warnings: result.warnings,
});

/** VirtualServices live in `shop`; the service `reviews` lives in `prod`. */
const settings = defaultRuleSettings;
const FQDN = 'reviews.prod.svc.cluster.local';
const HOST_PATH = 'spec.http[0].route[0].destination.host';
const ROUTE = 'spec.http[0].route[0]';

describe('destination hosts (VirtualService in shop)', () => {
  const world = [
    dr('prod', 'reviews', 'reviews', ['v1']),
    dr('prod', 'wild', '*.prod.svc.cluster.local', ['stable']),
    dr('prod', 'wild-short', '*.prod.svc', ['legacy']),
    dr('shop', 'ip', '10.0.0.1', ['v1']),
    dr('egress', 'api', 'api.example.com', ['v1']),
  ];
  const literally = (written: string): string => `Istio takes "${written}" literally (only dot-less names are expanded)`;
  const missing = (host: string, subset: string, home: string): string =>
    `subset ${ROUTE}: subset "${subset}" of host ${host} is not defined; no DestinationRule visible from namespace shop defines subsets for host ${host}; ` +
    `create one in namespace ${home} for that host with a subset named "${subset}"`;

  const cases: Array<{ written: string; subset?: string; problems?: string[]; warnings?: string[] }> = [
    // A short name expands in the VirtualService's own namespace, not the service's.
    { written: 'reviews', subset: 'v1', problems: [missing('reviews.shop.svc.cluster.local', 'v1', 'shop')] },
    { written: 'reviews' },
    {
      written: 'reviews.prod',
      subset: 'v1',
      problems: [`host ${HOST_PATH}: ${literally('reviews.prod')}, so subset "v1" is routed nowhere; ${FQDN} is probably meant`],
    },
    { written: 'reviews.prod', warnings: [`${HOST_PATH}: write ${FQDN}; Istio expands only dot-less names`] },
    {
      written: 'reviews.prod.svc',
      subset: 'v1',
      problems: [`host ${HOST_PATH}: ${literally('reviews.prod.svc')}, so subset "v1" is routed nowhere; ${FQDN} is probably meant`],
    },
    { written: 'reviews.prod.svc', warnings: [`${HOST_PATH}: write ${FQDN}; Istio expands only dot-less names`] },
    { written: FQDN, subset: 'v1' },
    { written: FQDN },
    // A wildcard destination is literal too: the rule written exactly so is the one that matches it.
    { written: '*.prod.svc.cluster.local', subset: 'stable' },
    { written: '*.prod.svc.cluster.local' },
    { written: '*.prod.svc', subset: 'legacy' },
    { written: '*.prod.svc' },
    { written: '10.0.0.1', subset: 'v1' },
    { written: '10.0.0.1' },
    { written: 'api.example.com', subset: 'v1' },
    { written: 'api.example.com' },
    // A dotted name whose full form no rule knows may be a real external name: no hint, the plain subset denial.
    { written: 'ratings.prod', subset: 'v1', problems: [missing('ratings.prod', 'v1', 'shop')] },
    { written: 'ratings.prod' },
  ];
  for (const { written, subset, problems = [], warnings = [] } of cases) {
    it(`${written} ${subset === undefined ? 'without a subset' : `subset ${subset}`}`, () => {
      const result = validateVirtualService(routeTo(written, subset), world, { namespace: 'shop', settings });
      assert.deepEqual(render(result), { problems, warnings });
    });
  }

  it('the lookup form (a store index) gives the same answers as the list form', () => {
    const lookup = (host: string): readonly DestinationRule[] => world.filter((rule) => host === FQDN ? rule.metadata.name === 'reviews' : true);
    for (const written of ['reviews.prod', 'reviews.prod.svc']) {
      for (const subset of ['v1', undefined]) {
        const ctx = { namespace: 'shop', settings };
        assert.deepEqual(render(validateVirtualService(routeTo(written, subset), lookup, ctx)), render(validateVirtualService(routeTo(written, subset), world, ctx)));
      }
    }
  });

  it('a mesh-wide * rule does not make every dotted name a known service', () => {
    const result = validateVirtualService(routeTo('example.com', undefined), [dr('istio-system', 'mesh', '*', [])], { namespace: 'shop', settings });
    assert.deepEqual(render(result), { problems: [], warnings: [] });
  });

  it('mirrors are pointed at too, each at its own path', () => {
    const virtualService = {
      spec: { http: [{ route: [{ destination: { host: FQDN, subset: 'v1' } }], mirror: { host: 'reviews.prod', subset: 'v1' }, mirrors: [{ destination: { host: 'reviews.prod.svc' } }] }] },
    };
    const result = render(validateVirtualService(virtualService, world, { namespace: 'shop', settings }));
    assert.deepEqual(result.problems.map((line) => line.split(':')[0]), ['host spec.http[0].mirror.host']);
    assert.deepEqual(result.warnings.map((line) => line.split(':')[0]), ['spec.http[0].mirrors[0].destination.host']);
  });
});

describe('DestinationRule hosts (rule in prod, route to reviews.prod.svc.cluster.local from shop)', () => {
  const cases: Array<{ written: string; applies: boolean }> = [
    { written: 'reviews', applies: true },
    { written: 'reviews.prod', applies: false },
    { written: 'reviews.prod.svc', applies: false },
    { written: FQDN, applies: true },
    { written: '*.prod.svc.cluster.local', applies: true },
    // SPEC §4: a wildcard is taken exactly as written.
    { written: '*.prod.svc', applies: false },
    { written: '10.0.0.1', applies: false },
    { written: 'api.example.com', applies: false },
  ];
  for (const { written, applies } of cases) {
    for (const subsets of [['v1'], []]) {
      it(`${written} with ${subsets.length === 0 ? 'no subsets' : 'subset v1'} ${applies ? 'applies' : 'does not apply'}`, () => {
        const rule = dr('prod', 'r', written, subsets);
        const ctx = { namespace: 'shop', settings };
        const routed = validateVirtualService(routeTo(FQDN, 'v1'), [rule], ctx);
        assert.equal(routed.problems.length === 0, applies && subsets.length > 0, render(routed).problems.join('\n'));
        if (routed.problems.length > 0) {
          const expected = applies ? /DestinationRule prod\/r (\(host .*\) )?defines no subsets$/ : /no DestinationRule visible from namespace shop/;
          assert.match(routed.problems[0]?.message ?? '', expected);
        }
        // Without a subset nothing is looked up and nothing is said.
        assert.deepEqual(render(validateVirtualService(routeTo(FQDN, undefined), [rule], ctx)), { problems: [], warnings: [] });
      });
    }
  }
});

describe('worst input: many short forms', () => {
  it('looks each full name up once, however often it is written, and answers in one pass', () => {
    const destinations = 60_000;
    const distinct = 500;
    const route = Array.from({ length: destinations }, (_, i) => ({
      destination: { host: `s${i % distinct}.prod${i % 2 === 0 ? '' : '.svc'}`, subset: 'v1', weight: 1 },
    }));
    const known = new Map(Array.from({ length: distinct }, (_, i) => [`s${i}.prod.svc.cluster.local`, [dr('prod', `s${i}`, `s${i}`, ['v1'])]]));
    const asked = new Map<string, number>();
    const lookup = (host: string): readonly DestinationRule[] => {
      asked.set(host, (asked.get(host) ?? 0) + 1);
      return known.get(host) ?? [];
    };
    const result = validateVirtualService({ spec: { http: [{ route }] } }, lookup, { namespace: 'shop', settings });
    // Every reference is a short form of a known service: each is denied at its host, none as a missing subset.
    // Plus, per entry, its misplaced `destination.weight`, and the route's sum (the weights sit inside destination), shown first.
    assert.equal(result.problemCount, 2 * destinations + 1);
    assert.equal(result.problems.length, MAX_PROBLEM_LINES);
    assert.deepEqual(result.problems.slice(0, 4).map((problem) => [problem.kind, problem.path]), [
      ['weight', 'spec.http[0].route'],
      ['host', 'spec.http[0].route[0].destination.host'],
      ['weight', 'spec.http[0].route[0].destination.weight'],
      ['host', 'spec.http[0].route[1].destination.host'],
    ]);
    assert.ok(!result.problems.some((problem) => problem.kind === 'subset'));
    assert.ok([...asked.values()].every((count) => count === 1), 'one lookup per full name');
    assert.equal(asked.size, distinct);
  });
});
