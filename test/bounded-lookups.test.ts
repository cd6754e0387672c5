// Issue 10, rules side: the worst objects a namespace user can send get the
// same answers as before, with work linear in their size. No timing here:
// work is counted (property reads of the rules), and the heap-cap cases run
// in child processes (bounded-work-process.test.ts); speed is in
// bench/adversarial.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hostNameProblem } from '../src/rules/dns.js';
import { matchingPatterns, resolvedHostOf, selectDestinationRules } from '../src/rules/hosts.js';
import { checkSubsets } from '../src/rules/subsets.js';
import { defaultRuleSettings, type DestinationRule } from '../src/rules/types.js';
import { formatProblems, MAX_REFRESH_NAMESPACES, missingHosts, namespacesToRefresh, refreshPlan, refreshPlanOf, subsetReferences, validateKeepingReferences, validateVirtualService } from '../src/rules/validate.js';
import { HostIndex } from '../src/store/host-index.js';
import { longHost, longHostInput, manyHostsInput, manyNamespacesInput, wildcardNamespacesInput, type AdversarialInput } from './support/adversarial.js';
import { referenceCheckSubsets, referenceMatchingPatterns, referenceSelect } from './support/quadratic-reference.js';

const settings = defaultRuleSettings;
/**
 * Reads of a rule's spec per review, whatever the number of hosts: resolving,
 * visibility, Istio's merge (src/rules/merge.ts) and a denial's explanation
 * each read it a few times. The quadratic check read every rule for every host.
 */
const READS_PER_RULE = 25;
const validate = (input: AdversarialInput, rules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]) = input.destinationRules) =>
  validateVirtualService(input.virtualService, rules, { namespace: input.namespace, settings });

/** Copies of `rules` whose `spec` reads are counted: work done per rule, without a clock. */
function counted(rules: readonly DestinationRule[]): { rules: DestinationRule[]; reads: () => number } {
  let reads = 0;
  const copies = rules.map((rule) => {
    const spec = structuredClone(rule.spec);
    const copy = { ...rule, metadata: { ...rule.metadata } } as DestinationRule;
    Object.defineProperty(copy, 'spec', { enumerable: true, get: () => (reads++, spec) });
    return copy;
  });
  return { rules: copies, reads: () => reads };
}

describe('host plausibility (SPEC §3): denied with its path before any lookup', () => {
  it('a 16,000-label (32 KB) host is one short denial, and the lookup never sees it', () => {
    const input = longHostInput(16_000);
    const asked: string[] = [];
    const result = validate(input, (host) => (asked.push(host), []));
    assert.deepEqual(asked, []);
    assert.equal(
      formatProblems(result.problems, result.problemCount),
      'spec.http[0].route[0].destination.host: is 31,999 characters long; a DNS name has at most 253',
    );
    // A small review afterwards is answered as always.
    const small = { spec: { http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } };
    assert.deepEqual(validateVirtualService(small, input.destinationRules, { namespace: input.namespace, settings }).problems, []);
  });

  const cases: Array<[host: string, problem: string | undefined]> = [
    ['reviews', undefined],
    ['reviews.prod.svc.cluster.local', undefined],
    ['istio.io.', undefined],
    ['*.example.com', undefined],
    ['*', undefined],
    [`${'x'.repeat(63)}.com`, undefined],
    [longHost(127), undefined], // 253 characters
    [`${longHost(127)}a`, 'is 254 characters long; a DNS name has at most 253'],
    [`a.${'x'.repeat(64)}.com`, 'label 2 is 64 characters long; a DNS label has at most 63'],
    ['a..b', 'has an empty label (two dots in a row); write the name without it'],
    ['.reviews', 'has an empty label (leading dot); write the name without it'],
    ['a.*.com', 'may hold `*` only as its whole first label (`*.example.com`)'],
    ['*foo.com', 'may hold `*` only as its whole first label (`*.example.com`)'],
  ];
  for (const [host, problem] of cases) {
    it(`${JSON.stringify(host.length > 40 ? `${host.slice(0, 20)}…(${host.length})` : host)}: ${problem ?? 'plausible'}`, () => {
      assert.equal(hostNameProblem(host), problem);
      const result = validateVirtualService({ spec: { http: [{ route: [{ destination: { host, subset: 'v1' } }] }] } }, [], { namespace: 'default', settings });
      const hostLines = result.problems.filter((p) => p.path === 'spec.http[0].route[0].destination.host').map((p) => p.message);
      assert.deepEqual(hostLines, problem === undefined ? [] : [problem]);
      // An implausible host is never looked up, so it earns no subset problem besides.
      if (problem !== undefined) assert.equal(result.problems.length, 1);
      else assert.equal(result.problems[0]?.kind, 'subset');
    });
  }

  it('mirrors are checked too', () => {
    const result = validateVirtualService({ spec: { http: [{ mirror: { host: 'a..b' }, mirrors: [{ destination: { host: 'x'.repeat(300) } }] }] } }, [], { namespace: 'default', settings });
    assert.deepEqual(formatProblems(result.problems, result.problemCount).split('\n'), [
      'spec.http[0].mirror.host: has an empty label (two dots in a row); write the name without it',
      'spec.http[0].mirrors[0].destination.host: is 300 characters long; a DNS name has at most 253',
    ]);
  });
});

describe('host patterns are looked up lazily', () => {
  it('matchingPatterns lists what it always listed', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '', '*', 'svc', 'cluster', 'local'), { minLength: 1, maxLength: 8 }), (labels) => {
        const host = labels.join('.');
        assert.deepEqual(matchingPatterns(host), referenceMatchingPatterns(host));
      }),
      { numRuns: 500 },
    );
  });

  it('the host index answers as the full pattern list did, for any rules and names', () => {
    const label = fc.constantFrom('a', 'b', 'svc', 'cluster', 'local', 'prod');
    const name = fc.array(label, { minLength: 1, maxLength: 6 }).map((labels) => labels.join('.'));
    const host = fc.oneof(name, name.map((n) => `*.${n}`), fc.constant('*'));
    fc.assert(
      fc.property(fc.array(fc.record({ namespace: fc.constantFrom('a', 'b', 'prod'), host }), { maxLength: 12 }), fc.array(name, { minLength: 1, maxLength: 6 }), (specs, asked) => {
        const index = new HostIndex(settings.clusterDomain);
        const rules = specs.map((spec, i): DestinationRule => ({ metadata: { name: `r${i}`, namespace: spec.namespace }, spec: { host: spec.host } }));
        for (const rule of rules) index.upsert(rule);
        for (const fqdn of asked) {
          const expected = referenceMatchingPatterns(fqdn).flatMap((pattern) =>
            rules.filter((rule) => index.get(rule.metadata.namespace, rule.metadata.name) === rule && resolvedHostOf(rule, settings.clusterDomain) === pattern)
              .sort((x, y) => (x.metadata.name < y.metadata.name ? -1 : x.metadata.name > y.metadata.name ? 1 : x.metadata.namespace < y.metadata.namespace ? -1 : 1)));
          assert.deepEqual(index.candidatesForHost(fqdn).map(key), expected.map(key), fqdn);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a 16,000-label name costs the index one pass, and gets the `*` rules', () => {
    const index = new HostIndex(settings.clusterDomain);
    index.upsert({ metadata: { name: 'mesh', namespace: 'istio-system' }, spec: { host: '*' } });
    index.upsert({ metadata: { name: 'wild', namespace: 'x' }, spec: { host: '*.a.a' } });
    assert.deepEqual(index.candidatesForHost(longHost(16_000)).map(key), ['x/wild', 'istio-system/mesh']);
  });
});

const key = (rule: DestinationRule): string => `${rule.metadata.namespace}/${rule.metadata.name}`;

describe('DestinationRules with absurd hosts (from a cache or an input file) cost no more than their size', () => {
  it('16,000-label exact and wildcard hosts are indexed and never match a real name', () => {
    const odd: DestinationRule[] = [
      { metadata: { name: 'long', namespace: 'default' }, spec: { host: longHost(16_000), subsets: [{ name: 'v1' }] } },
      { metadata: { name: 'long-wild', namespace: 'default' }, spec: { host: `*.${longHost(16_000)}`, subsets: [{ name: 'v1' }] } },
      { metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'v2' }] } },
    ];
    const index = new HostIndex(settings.clusterDomain);
    for (const rule of odd) index.upsert(rule);
    assert.deepEqual(index.candidatesForHost('reviews.default.svc.cluster.local').map(key), ['default/reviews']);
    const virtualService = { spec: { http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } };
    for (const rules of [odd, (host: string) => index.candidatesForHost(host)]) {
      assert.deepEqual(formatProblems(validateVirtualService(virtualService, rules, { namespace: 'default', settings }).problems),
        'spec.http[0].route[0]: subset "v1" of host reviews.default.svc.cluster.local is not defined; DestinationRule default/reviews defines v2');
    }
  });
});

describe('subset checking: same answers as the quadratic version, linear work', () => {
  const namespaces = ['default', 'prod', 'istio-system', 'egress-a', 'egress-b'];
  const ruleArb = fc.record({
    namespace: fc.constantFrom(...namespaces),
    name: fc.constantFrom('r1', 'r2', 'r3'),
    host: fc.constantFrom('reviews', 'reviews.prod.svc.cluster.local', '*.prod.svc.cluster.local', '*.svc.cluster.local', '*', 'api.example.com', '*.example.com', 'ratings', '*.com'),
    subsets: fc.uniqueArray(fc.constantFrom('v1', 'v2', 'v3'), { maxLength: 3 }),
    exportTo: fc.option(fc.array(fc.constantFrom('.', '*', '~', 'default', 'prod'), { maxLength: 2 }), { nil: undefined }),
  });
  const refArb = fc.record({
    host: fc.constantFrom('reviews.default.svc.cluster.local', 'reviews.prod.svc.cluster.local', 'ratings.prod.svc.cluster.local', 'api.example.com', 'a.b.example.com', 'other.org'),
    subset: fc.constantFrom('v1', 'v2', 'v3'),
  });

  it('selectDestinationRules and checkSubsets agree with the old implementation, message for message', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 10 }), fc.array(refArb, { minLength: 1, maxLength: 6 }), fc.constantFrom(...namespaces), (specs, refs, from) => {
        const rules = specs.map((spec): DestinationRule => ({
          metadata: { name: spec.name, namespace: spec.namespace },
          spec: { host: spec.host, subsets: spec.subsets.map((name) => ({ name })), ...(spec.exportTo ? { exportTo: spec.exportTo } : {}) },
        }));
        for (const { host } of refs) assert.deepEqual(selectDestinationRules(host, from, rules, settings), referenceSelect(host, from, rules, settings));
        const references = refs.map((ref, i) => ({ path: `spec.http[${i}].route[0]`, ...ref }));
        assert.deepEqual(checkSubsets(references, rules, from, settings), referenceCheckSubsets(references, rules, from, settings));
      }),
      { numRuns: 1_000 },
    );
  });

  it('through a store (views kept per answer, composed per host pattern): the same problems as the list, message for message, before and after a change', () => {
    // Unique names, so a rule's key is its identity in the index.
    const uniqueRules = fc.uniqueArray(ruleArb, { maxLength: 10, selector: (spec) => `${spec.namespace}/${spec.name}` });
    fc.assert(
      fc.property(uniqueRules, fc.array(refArb, { minLength: 1, maxLength: 6 }), fc.constantFrom(...namespaces), fc.nat(), (specs, refs, from, changed) => {
        const rules = specs.map((spec): DestinationRule => ({
          metadata: { name: spec.name, namespace: spec.namespace },
          spec: { host: spec.host, subsets: spec.subsets.map((name) => ({ name })), ...(spec.exportTo ? { exportTo: spec.exportTo } : {}) },
        }));
        const index = new HostIndex(settings.clusterDomain);
        for (const rule of rules) index.upsert(rule);
        const virtualService = { spec: { http: refs.map((ref) => ({ route: [{ destination: ref }] })) } };
        const ctx = { namespace: from, settings };
        const lookup = (host: string): readonly DestinationRule[] => index.candidatesForHost(host);
        // The list in the order the index answers (pattern by pattern), so "the first other rule that defines it" is the same rule.
        const inIndexOrder = (): DestinationRule[] => [...new Set(refs.flatMap((ref) => [...index.candidatesForHost(ref.host)]))];
        const expected = validateVirtualService(virtualService, inIndexOrder(), ctx);
        assert.deepEqual(validateVirtualService(virtualService, lookup, ctx), expected);
        // Asked again: the kept views answer the same.
        assert.deepEqual(validateVirtualService(virtualService, lookup, ctx), expected);
        if (rules.length === 0) return;
        // One rule loses its subsets: the next review sees that, nothing stale.
        const victim = rules[changed % rules.length]!;
        index.upsert({ ...victim, spec: { ...victim.spec, subsets: [] } });
        assert.deepEqual(validateVirtualService(virtualService, lookup, ctx), validateVirtualService(virtualService, inIndexOrder(), ctx));
      }),
      { numRuns: 1_000 },
    );
  });

  it('4,000 hosts × 4,000 rules: allowed, reading each rule a few times (the old check read them 4,000 times each)', () => {
    const input = manyHostsInput(4_000);
    const { rules, reads } = counted(input.destinationRules);
    assert.deepEqual(validate(input, rules).problems, []);
    assert.ok(reads() <= READS_PER_RULE * rules.length, `${reads()} reads of ${rules.length} rules`);
  });

  it('4,000 hosts × 4,000 rules with every subset missing: every miss explained, each rule read a few times', () => {
    const input = manyHostsInput(4_000, 'v9');
    const { rules, reads } = counted(input.destinationRules);
    const result = validate(input, rules);
    assert.equal(result.problemCount, 4_000);
    const text = formatProblems(result.problems, result.problemCount).split('\n');
    assert.equal(text[0], 'spec.http[0].route[0]: subset "v9" of host svc-0.wide.svc.cluster.local is not defined; DestinationRule wide/svc-0 defines v1, v2');
    assert.equal(text[100], '... and 3900 more problems');
    assert.ok(reads() <= READS_PER_RULE * rules.length, `${reads()} reads of ${rules.length} rules`);
  });

  it('2,000 namespaces each holding host "*", 500 external hosts: the first namespace by name wins, found once', () => {
    const input = wildcardNamespacesInput(2_000, 500);
    const { rules, reads } = counted(input.destinationRules);
    assert.deepEqual(validate(input, rules).problems, []);
    assert.ok(reads() <= READS_PER_RULE * rules.length, `${reads()} reads of ${rules.length} rules`);

    const missing = wildcardNamespacesInput(2_000, 500, 'v9');
    const second = counted(missing.destinationRules);
    const result = validate(missing, second.rules);
    assert.equal(result.problemCount, 500);
    // tenant-0 < tenant-1 < tenant-10 < …: the first by name, as Istio's sorted namespaces give.
    assert.equal(
      formatProblems(result.problems, result.problemCount).split('\n')[0],
      'spec.http[0].route[0]: subset "v9" of host ext-0.example.com is not defined; DestinationRule tenant-0/everything (host *) defines v1',
    );
    assert.ok(second.reads() <= READS_PER_RULE * rules.length, `${second.reads()} reads of ${rules.length} rules`);
  });

  it('through the host index: 4,000 hosts with a rule each, in a cluster where 2,000 namespaces hold "*", read each rule a few times, not once per host (the store answers each host with its own rule and the 2,000)', () => {
    const own = manyHostsInput(4_000, 'v9');
    const shared = wildcardNamespacesInput(2_000, 0);
    const { rules, reads } = counted([...own.destinationRules, ...shared.destinationRules]);
    const index = new HostIndex(settings.clusterDomain);
    for (const rule of rules) index.upsert(rule);
    const before = reads();
    const result = validate(own, (host) => index.candidatesForHost(host));
    assert.equal(result.problemCount, 4_000);
    assert.equal(
      formatProblems(result.problems, result.problemCount).split('\n')[0],
      'spec.http[0].route[0]: subset "v9" of host svc-0.wide.svc.cluster.local is not defined; DestinationRule wide/svc-0 defines v1, v2',
    );
    assert.ok(reads() - before <= READS_PER_RULE * rules.length, `${reads() - before} reads of ${rules.length} rules`);
  });

  it('through the host index (what the server does), the same answers', () => {
    const input = wildcardNamespacesInput(2_000, 500, 'v9');
    const index = new HostIndex(settings.clusterDomain);
    for (const rule of input.destinationRules) index.upsert(rule);
    const viaIndex = validate(input, (host) => index.candidatesForHost(host));
    assert.deepEqual(viaIndex, validate(input));
  });
});

describe('namespacesToRefresh: valid names, each once, at most MAX_REFRESH_NAMESPACES', () => {
  it(`2,000 hosts in 2,000 namespaces: ${MAX_REFRESH_NAMESPACES} reads, own and root namespace included, the rest reported`, () => {
    const input = manyNamespacesInput(2_000);
    const ctx = { namespace: input.namespace, settings };
    // As the server plans it: the hosts of the pairs the validation found missing.
    const validation = validateKeepingReferences(input.virtualService, [], ctx);
    const plan = refreshPlanOf(missingHosts(validation), validation.namespace, ctx);
    assert.deepEqual(refreshPlan(input.virtualService, ctx), plan);
    assert.equal(plan.namespaces.length, MAX_REFRESH_NAMESPACES);
    assert.equal(new Set(plan.namespaces).size, plan.namespaces.length);
    assert.equal(plan.namespaces[0], 'client');
    assert.equal(plan.namespaces.at(-1), 'istio-system');
    assert.deepEqual(plan.namespaces.slice(1, 3), ['tenant-0', 'tenant-1']);
    assert.equal(plan.omitted, 2_000 - (MAX_REFRESH_NAMESPACES - 2));
    assert.deepEqual(namespacesToRefresh(input.virtualService, ctx), plan.namespaces);
  });

  it('request.namespace ".." (or any name that is not a DNS-1123 label) is never read', () => {
    const virtualService = { spec: { http: [{ route: [{ destination: { host: 'reviews.prod.svc.cluster.local', subset: 'v1' } }] }] } };
    for (const namespace of ['..', 'a/b', 'UPPER', 'x'.repeat(64), '-a']) {
      const plan = refreshPlan(virtualService, { namespace, settings });
      assert.deepEqual(plan.namespaces, ['prod', 'istio-system'], namespace);
      assert.equal(plan.invalid, 1);
    }
    // Host namespaces that are not labels are dropped the same way.
    const odd = { spec: { http: [{ route: [{ destination: { host: 'svc.under_score.svc.cluster.local', subset: 'v1' } }] }] } };
    assert.deepEqual(refreshPlan(odd, { namespace: 'default', settings }), { namespaces: ['default', 'istio-system'], omitted: 0, invalid: 1 });
  });

  it('with the problems given, only the namespaces of missing subsets are read', () => {
    const virtualService = {
      spec: { http: [{ route: [{ destination: { host: 'a.prod.svc.cluster.local', subset: 'v1' } }] }, { route: [{ destination: { host: 'b.staging.svc.cluster.local', subset: 'v1' } }] }] },
    };
    const ctx = { namespace: 'default', settings };
    const rules: DestinationRule[] = [{ metadata: { name: 'a', namespace: 'prod' }, spec: { host: 'a', subsets: [{ name: 'v1' }] } }];
    const { problems } = validateVirtualService(virtualService, rules, ctx);
    assert.deepEqual(problems.map((p) => p.path), ['spec.http[1].route[0]']);
    assert.deepEqual(namespacesToRefresh(virtualService, ctx, problems), ['default', 'staging', 'istio-system']);
    assert.deepEqual(namespacesToRefresh(virtualService, ctx), ['default', 'prod', 'staging', 'istio-system']);
    assert.equal(subsetReferences(virtualService, ctx).length, 2);
  });
});
