import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';

import { defaultRuleSettings, type DestinationRule, type Problem, type ValidationContext } from '../src/rules/types.js';
import { namespacesToRefresh, subsetReferences, validateVirtualService } from '../src/rules/validate.js';

const ctx: ValidationContext = { namespace: 'default', settings: defaultRuleSettings };
const corpus = '/work/shared/corpus/istio-samples';

function dr(namespace: string, name: string, host: string, subsets: string[], exportTo?: string[]): DestinationRule {
  return {
    metadata: { name, namespace },
    spec: { host, subsets: subsets.map((subset) => ({ name: subset, labels: { version: subset } })), ...(exportTo ? { exportTo } : {}) },
  };
}

/** A VirtualService with one http route to `host` subset `subset`. */
function routeTo(host: string, subset: string): unknown {
  return { spec: { http: [{ route: [{ destination: { host, subset } }] }] } };
}

/** Istio expands only dot-less names (SPEC §4), so cross-namespace routes name the FQDN. */
const PROD = 'reviews.prod.svc.cluster.local';

const lines = (problems: readonly Problem[]): string[] => problems.map((problem) => `${problem.path}: ${problem.message}`);

function check(virtualService: unknown, rules: DestinationRule[], namespace = 'default') {
  return validateVirtualService(virtualService, rules, { ...ctx, namespace });
}

/** Documents of a sample file, as Kubernetes would see them applied to `namespace`. */
function load(file: string, namespace = 'default'): Array<Record<string, unknown> & { metadata: { name: string; namespace: string } }> {
  return parseAllDocuments(readFileSync(join(corpus, file), 'utf8'))
    .map((document) => document.toJS() as unknown)
    .filter((value): value is Record<string, unknown> & { metadata: { name: string; namespace: string } } => typeof value === 'object' && value !== null)
    .map((value) => ({ ...value, metadata: { ...value.metadata, namespace } }));
}

const loadRules = (file: string): DestinationRule[] => load(file).filter((doc) => doc.kind === 'DestinationRule') as unknown as DestinationRule[];

describe('the message for a missing subset', () => {
  const reviews = dr('default', 'reviews', 'reviews', ['v1', 'v2']);

  it('names the host, the subset and what exists where (the SPEC example)', () => {
    const result = check(
      { spec: { http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 50 }, { destination: { host: 'reviews', subset: 'v3' }, weight: 50 }] }] } },
      [reviews],
    );
    assert.deepEqual(result.problems, [
      {
        path: 'spec.http[0].route[1]',
        kind: 'subset',
        message: 'subset "v3" of host reviews.default.svc.cluster.local is not defined; DestinationRule default/reviews defines v1, v2',
      },
    ]);
  });

  it('says when no visible rule covers the host, and how to fix it', () => {
    assert.deepEqual(lines(check(routeTo('ratings.prod.svc.cluster.local', 'v1'), [reviews]).problems), [
      'spec.http[0].route[0]: subset "v1" of host ratings.prod.svc.cluster.local is not defined; ' +
        'no DestinationRule visible from namespace default defines subsets for host ratings.prod.svc.cluster.local; ' +
        'create one in namespace prod for that host with a subset named "v1"',
    ]);
  });

  it('says when the rule that applies defines no subsets at all', () => {
    assert.deepEqual(lines(check(routeTo('reviews', 'v1'), [dr('default', 'reviews', 'reviews', [])]).problems), [
      'spec.http[0].route[0]: subset "v1" of host reviews.default.svc.cluster.local is not defined; DestinationRule default/reviews defines no subsets',
    ]);
  });

  it('names the wildcard host when a wildcard rule is the one that applies', () => {
    const wild = dr('prod', 'all', '*.prod.svc.cluster.local', ['stable']);
    assert.deepEqual(lines(check(routeTo(PROD, 'v1'), [wild]).problems), [
      'spec.http[0].route[0]: subset "v1" of host reviews.prod.svc.cluster.local is not defined; DestinationRule prod/all (host *.prod.svc.cluster.local) defines stable',
    ]);
  });

  it('names every merged rule', () => {
    const rules = [dr('default', 'a', 'reviews', ['v1']), dr('default', 'b', 'reviews.default.svc.cluster.local', ['v2'])];
    assert.deepEqual(lines(check(routeTo('reviews', 'v3'), rules).problems), [
      'spec.http[0].route[0]: subset "v3" of host reviews.default.svc.cluster.local is not defined; DestinationRules default/a, default/b (merged) define v1, v2',
    ]);
  });

  it('explains a rule that has the subset but is hidden by exportTo', () => {
    const hidden = dr('prod', 'reviews', 'reviews', ['v3'], ['.']);
    assert.deepEqual(lines(check(routeTo(PROD, 'v3'), [hidden]).problems), [
      'spec.http[0].route[0]: subset "v3" of host reviews.prod.svc.cluster.local is not defined; ' +
        'no DestinationRule visible from namespace default defines subsets for host reviews.prod.svc.cluster.local; ' +
        'create one in namespace prod for that host with a subset named "v3"; ' +
        'DestinationRule prod/reviews defines it but its exportTo does not include namespace default',
    ]);
  });

  it('explains a rule that has the subset but loses precedence', () => {
    const rules = [dr('default', 'override', 'reviews.prod.svc.cluster.local', ['v1']), dr('prod', 'reviews', 'reviews', ['v1', 'v2'])];
    assert.deepEqual(lines(check(routeTo(PROD, 'v2'), rules).problems), [
      'spec.http[0].route[0]: subset "v2" of host reviews.prod.svc.cluster.local is not defined; ' +
        'DestinationRule default/override defines v1; DestinationRule prod/reviews defines it but default/override takes precedence',
    ]);
  });

  it('lists at most ten defined subsets', () => {
    const many = Array.from({ length: 13 }, (_, i) => `v${i}`);
    const [problem] = check(routeTo('reviews', 'x'), [dr('default', 'reviews', 'reviews', many)]).problems;
    assert.match(problem?.message ?? '', /defines v0, v1, v2, v3, v4, v5, v6, v7, v8, v9 and 3 more$/);
  });
});

describe('visibility and precedence (SPEC §4)', () => {
  const cases: Array<{ name: string; host: string; subset: string; rules: DestinationRule[]; allowed: boolean }> = [
    { name: 'a rule of another namespace with exportTo ["."] is not visible', host: PROD, subset: 'v1', rules: [dr('prod', 'r', 'reviews', ['v1'], ['.'])], allowed: false },
    { name: 'the same rule with the default exportTo is visible', host: PROD, subset: 'v1', rules: [dr('prod', 'r', 'reviews', ['v1'])], allowed: true },
    { name: 'exportTo naming the VirtualService namespace is visible', host: PROD, subset: 'v1', rules: [dr('prod', 'r', 'reviews', ['v1'], ['default'])], allowed: true },
    { name: 'exportTo naming another namespace is not visible', host: PROD, subset: 'v1', rules: [dr('prod', 'r', 'reviews', ['v1'], ['staging'])], allowed: false },
    { name: 'the same rule in istio-system, exportTo ["."], is visible', host: PROD, subset: 'v1', rules: [dr('istio-system', 'r', 'reviews.prod.svc.cluster.local', ['v1'], ['.'])], allowed: true },
    { name: '*.prod.svc.cluster.local matches reviews.prod', host: PROD, subset: 'v1', rules: [dr('prod', 'r', '*.prod.svc.cluster.local', ['v1'])], allowed: true },
    { name: 'a * rule in istio-system matches anything', host: PROD, subset: 'v1', rules: [dr('istio-system', 'r', '*', ['v1'])], allowed: true },
    {
      name: 'a more specific rule beats a wildcard (subset only in the wildcard)',
      host: PROD,
      subset: 'canary',
      rules: [dr('prod', 'wild', '*.prod.svc.cluster.local', ['canary']), dr('prod', 'exact', 'reviews', ['v1'])],
      allowed: false,
    },
    {
      name: 'a more specific rule beats a wildcard (subset only in the specific rule)',
      host: PROD,
      subset: 'v1',
      rules: [dr('prod', 'wild', '*.prod.svc.cluster.local', ['canary']), dr('prod', 'exact', 'reviews', ['v1'])],
      allowed: true,
    },
    {
      name: 'the VirtualService-namespace rule beats the service-namespace rule',
      host: PROD,
      subset: 'v2',
      rules: [dr('prod', 'reviews', 'reviews', ['v1', 'v2']), dr('default', 'local', 'reviews.prod.svc.cluster.local', ['v1'])],
      allowed: false,
    },
    {
      name: 'the service-namespace rule beats the root-namespace rule',
      host: PROD,
      subset: 'v2',
      rules: [dr('istio-system', 'mesh', '*', ['v2']), dr('prod', 'reviews', 'reviews', ['v1'])],
      allowed: false,
    },
    { name: 'a rule in a third namespace does not apply to an in-cluster host', host: PROD, subset: 'v1', rules: [dr('other', 'r', 'reviews.prod.svc.cluster.local', ['v1'])], allowed: false },
    { name: 'a short DR host resolves in the DR’s namespace', host: PROD, subset: 'v1', rules: [dr('default', 'r', 'reviews', ['v1'])], allowed: false },
    { name: 'a short DR host in default matches a short VS host in default', host: 'reviews', subset: 'v1', rules: [dr('default', 'r', 'reviews', ['v1'])], allowed: true },
    { name: 'FQDN destination, short DR host in the service namespace', host: PROD, subset: 'v1', rules: [dr('prod', 'r', 'reviews', ['v1'])], allowed: true },
    // Istio takes a DR host written `reviews.prod` literally: it applies to no service.
    { name: 'FQDN destination, DR host written reviews.prod does not apply', host: PROD, subset: 'v1', rules: [dr('prod', 'r', 'reviews.prod', ['v1'])], allowed: false },
    { name: 'a DR host *.prod.svc is taken as written and matches nothing in the cluster', host: PROD, subset: 'v1', rules: [dr('prod', 'r', '*.prod.svc', ['v1'])], allowed: false },
    { name: 'FQDN destination, short VS-namespace DR', host: 'reviews.default.svc.cluster.local', subset: 'v1', rules: [dr('default', 'r', 'reviews', ['v1'])], allowed: true },
    { name: 'hosts compare without case', host: 'Reviews.Prod.SVC.Cluster.Local', subset: 'v1', rules: [dr('prod', 'r', 'REVIEWS', ['v1'])], allowed: true },
    { name: 'subset names compare with case', host: 'reviews', subset: 'V1', rules: [dr('default', 'r', 'reviews', ['v1'])], allowed: false },
    { name: 'external host, exact rule in the VS namespace', host: 'api.example.com', subset: 'v1', rules: [dr('default', 'r', 'api.example.com', ['v1'])], allowed: true },
    { name: 'external host, wildcard rule in an egress namespace', host: 'api.example.com', subset: 'v1', rules: [dr('egress', 'r', '*.example.com', ['v1'])], allowed: true },
    { name: 'external host is not expanded into the cluster', host: 'api.example.com', subset: 'v1', rules: [dr('default', 'r', 'api', ['v1'])], allowed: false },
    { name: 'a rule exported nowhere (~) applies nowhere', host: 'reviews', subset: 'v1', rules: [dr('default', 'r', 'reviews', ['v1'], ['~'])], allowed: false },
  ];
  for (const { name, host, subset, rules, allowed } of cases) {
    it(name, () => {
      const { problems } = check(routeTo(host, subset), rules);
      assert.equal(problems.length === 0, allowed, lines(problems).join('\n'));
      assert.ok(problems.every((problem) => problem.kind === 'subset' && problem.path === 'spec.http[0].route[0]'));
    });
  }
});

describe('every kind of destination is checked', () => {
  const rules = [dr('default', 'reviews', 'reviews', ['v1', 'v2']), dr('prod', 'ratings', 'ratings', ['v1'])];
  const bad = (host: string) => ({ host, subset: 'nope' });
  const virtualService = {
    spec: {
      http: [
        {
          route: [{ destination: { host: 'reviews', subset: 'v1' } }],
          mirror: bad('reviews'),
          mirrors: [{ destination: { host: 'reviews', subset: 'v2' } }, { destination: bad('ratings.prod.svc.cluster.local') }, { destination: bad('reviews') }],
        },
        { route: [{ destination: bad('reviews'), weight: 100 }] },
      ],
      tcp: [{ route: [{ destination: { host: 'ratings.prod.svc.cluster.local', subset: 'v1' }, weight: 50 }, { destination: bad('ratings.prod.svc.cluster.local'), weight: 50 }] }],
      tls: [{ route: [{ destination: bad('reviews.default.svc.cluster.local') }] }],
    },
  };

  it('reports route, mirror, mirrors, tcp and tls subsets with their paths', () => {
    const { problems, warnings } = check(virtualService, rules);
    assert.deepEqual(
      problems.map((problem) => [problem.kind, problem.path]),
      [
        ['subset', 'spec.http[0].mirror'],
        ['subset', 'spec.http[0].mirrors[1].destination'],
        ['subset', 'spec.http[0].mirrors[2].destination'],
        ['subset', 'spec.http[1].route[0]'],
        ['subset', 'spec.tcp[0].route[1]'],
        ['subset', 'spec.tls[0].route[0]'],
      ],
    );
    assert.deepEqual(warnings, []);
  });

  it('subsetReferences lists them all, hosts resolved', () => {
    assert.deepEqual(subsetReferences(virtualService, ctx), [
      { path: 'spec.http[0].route[0]', host: 'reviews.default.svc.cluster.local', subset: 'v1' },
      { path: 'spec.http[0].mirror', host: 'reviews.default.svc.cluster.local', subset: 'nope' },
      { path: 'spec.http[0].mirrors[0].destination', host: 'reviews.default.svc.cluster.local', subset: 'v2' },
      { path: 'spec.http[0].mirrors[1].destination', host: 'ratings.prod.svc.cluster.local', subset: 'nope' },
      { path: 'spec.http[0].mirrors[2].destination', host: 'reviews.default.svc.cluster.local', subset: 'nope' },
      { path: 'spec.http[1].route[0]', host: 'reviews.default.svc.cluster.local', subset: 'nope' },
      { path: 'spec.tcp[0].route[0]', host: 'ratings.prod.svc.cluster.local', subset: 'v1' },
      { path: 'spec.tcp[0].route[1]', host: 'ratings.prod.svc.cluster.local', subset: 'nope' },
      { path: 'spec.tls[0].route[0]', host: 'reviews.default.svc.cluster.local', subset: 'nope' },
    ]);
  });

  it('subsetReferences skips destinations without a subset (or with "") and malformed ones', () => {
    const refs = subsetReferences(
      { spec: { http: [{ route: [{ destination: { host: 'a' } }, { destination: { host: 'b', subset: '' } }, { destination: { host: 7, subset: 'v1' } }, 'junk'] }] } },
      ctx,
    );
    assert.deepEqual(refs, []);
    assert.deepEqual(subsetReferences(null, ctx), []);
  });

  it('reports shape and subset problems of one VirtualService together', () => {
    const { problems } = check({ spec: { http: [{ route: [{ destination: { host: 'reviews', subset: 'v9' }, weight: 60 }, { destination: { host: 'reviews', subset: 'v1' }, weight: '40' }] }] } }, rules);
    assert.deepEqual(
      problems.map((problem) => [problem.kind, problem.path]),
      [
        ['subset', 'spec.http[0].route[0]'],
        ['weight', 'spec.http[0].route[1].weight'],
      ],
    );
  });
});

describe('namespacesToRefresh', () => {
  it('is the VirtualService namespace, each referenced service namespace, then the root namespace, once each', () => {
    const virtualService = {
      spec: {
        http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }, { destination: { host: 'ratings.prod.svc.cluster.local', subset: 'v1' } }], mirror: { host: 'x.staging.svc.cluster.local', subset: 'a' } }],
        tcp: [{ route: [{ destination: { host: 'db.prod.svc.cluster.local', subset: 'v1' } }, { destination: { host: 'api.example.com', subset: 'v1' } }] }],
        tls: [{ route: [{ destination: { host: 'gw.istio-system.svc.cluster.local', subset: 'v1' } }] }],
      },
    };
    assert.deepEqual(namespacesToRefresh(virtualService, ctx), ['default', 'prod', 'staging', 'istio-system']);
  });

  it('is just the own and root namespaces for junk', () => {
    assert.deepEqual(namespacesToRefresh('junk', ctx), ['default', 'istio-system']);
    assert.deepEqual(namespacesToRefresh({ spec: { http: 3 } }, { ...ctx, namespace: 'team-a' }), ['team-a', 'istio-system']);
  });

  it('falls back to the object’s namespace when the context has none', () => {
    const virtualService = { metadata: { namespace: 'team-b' }, spec: { http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } };
    assert.deepEqual(namespacesToRefresh(virtualService, { ...ctx, namespace: '' }), ['team-b', 'istio-system']);
    assert.deepEqual(subsetReferences(virtualService, { ...ctx, namespace: '' })[0]?.host, 'reviews.team-b.svc.cluster.local');
  });

  it('a fresher read of exactly those namespaces cures a missing-subset denial', () => {
    const virtualService = routeTo(PROD, 'v2');
    const stale = [dr('prod', 'reviews', 'reviews', ['v1'])];
    const denied = check(virtualService, stale);
    assert.deepEqual(denied.problems.map((problem) => problem.kind), ['subset']);
    const fresh = [dr('prod', 'reviews', 'reviews', ['v1', 'v2']), dr('elsewhere', 'noise', '*', ['v2'])];
    const refreshed = fresh.filter((rule) => namespacesToRefresh(virtualService, ctx).includes(rule.metadata.namespace));
    assert.deepEqual(check(virtualService, refreshed).problems, []);
  });
});

describe('Bookinfo samples (istio/istio samples/bookinfo/networking)', () => {
  const allRules = loadRules('destination-rule-all.yaml');
  const files = readdirSync(corpus).filter((file) => /^virtual-service-.*\.yaml$/.test(file));

  it('the corpus holds what these tests expect', () => {
    assert.equal(files.length, 14);
    assert.deepEqual(allRules.map((rule) => rule.metadata.name), ['productpage', 'reviews', 'ratings', 'details']);
  });

  for (const file of files) {
    it(`${file} is allowed against destination-rule-all.yaml in default`, () => {
      const virtualServices = load(file).filter((doc) => doc.kind === 'VirtualService');
      assert.ok(virtualServices.length > 0);
      for (const virtualService of virtualServices) {
        const result = check(virtualService, allRules);
        assert.deepEqual(result, { problems: [], problemCount: 0, warnings: [] }, `${file} ${virtualService.metadata.name}`);
      }
    });
  }

  it('virtual-service-reviews-v3.yaml against only destination-rule-reviews.yaml is allowed: that rule defines v1, v2, v3', () => {
    const rules = loadRules('destination-rule-reviews.yaml');
    assert.deepEqual(rules[0]?.spec.subsets?.map((subset) => subset.name), ['v1', 'v2', 'v3']);
    const [virtualService] = load('virtual-service-reviews-v3.yaml');
    assert.deepEqual(check(virtualService, rules), { problems: [], problemCount: 0, warnings: [] });
  });

  it('virtual-service-details-v2.yaml against only destination-rule-reviews.yaml names the missing rule', () => {
    const [virtualService] = load('virtual-service-details-v2.yaml');
    assert.deepEqual(lines(check(virtualService, loadRules('destination-rule-reviews.yaml')).problems), [
      'spec.http[0].route[0]: subset "v2" of host details.default.svc.cluster.local is not defined; ' +
        'no DestinationRule visible from namespace default defines subsets for host details.default.svc.cluster.local; ' +
        'create one in namespace default for that host with a subset named "v2"',
    ]);
  });

  it('the samples applied in prod are still allowed, and a VirtualService in default cannot use prod’s rules by short name', () => {
    const prodRules = load('destination-rule-all.yaml', 'prod') as unknown as DestinationRule[];
    const [virtualService] = load('virtual-service-reviews-90-10.yaml', 'prod');
    assert.deepEqual(check(virtualService, prodRules, 'prod').problems, []);
    assert.deepEqual(
      check(virtualService, prodRules, 'default').problems.map((problem) => problem.path),
      ['spec.http[0].route[0]', 'spec.http[0].route[1]'],
    );
  });

  it('the samples with every subset removed deny each subset reference', () => {
    const bare = allRules.map((rule) => ({ ...rule, spec: { ...rule.spec, subsets: [] } }));
    const [virtualService] = load('virtual-service-reviews-80-20.yaml');
    assert.deepEqual(
      check(virtualService, bare).problems.map((problem) => `${problem.path}: ${problem.message.split(';')[1]?.trim()}`),
      ['spec.http[0].route[0]: DestinationRule default/reviews defines no subsets', 'spec.http[0].route[1]: DestinationRule default/reviews defines no subsets'],
    );
  });
});
