import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { defaultRuleSettings, type DestinationRule, type ValidationContext, type WeightPolicy } from '../src/rules/types.js';
import { formatProblems, MAX_PROBLEM_LINES, namespacesToRefresh, subsetReferences, validateVirtualService } from '../src/rules/validate.js';

const ctx: ValidationContext = { namespace: 'default', settings: defaultRuleSettings };
const RUNS = 500;
const SECTIONS = ['http', 'tcp', 'tls'] as const;

// ---------------------------------------------------------------------------
// Weights: the verdict equals a reference computation written from SPEC §3.

const ABSENT = Symbol('absent');
type GeneratedWeight = unknown;

const weightValue: fc.Arbitrary<GeneratedWeight> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 100 }) },
  { weight: 2, arbitrary: fc.constant(ABSENT) },
  { weight: 2, arbitrary: fc.integer({ min: -300, max: 300 }) },
  // Around the proportional policy's uint32 ceiling.
  { weight: 1, arbitrary: fc.integer({ min: 4_294_967_290, max: 4_294_967_300 }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -200, max: 200 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 0, max: 100 }).map(String), fc.constant(null), fc.boolean(), fc.constant({}), fc.constant([10])) },
);

/** Valid splits are rare among random numbers, so generate them on purpose too. */
const splitOf100: fc.Arbitrary<GeneratedWeight[]> = fc
  .array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 4 })
  .map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), 100];
    return points.slice(1).map((point, i) => point - (points[i] ?? 0));
  });

const routeWeights: fc.Arbitrary<GeneratedWeight[]> = fc.oneof(fc.array(weightValue, { maxLength: 5 }), splitOf100);

interface Section {
  /** undefined: an http entry without route (redirect, delegate...). */
  routes: Array<GeneratedWeight[] | undefined>;
}

const sections = fc.record({
  http: fc.array(fc.option(routeWeights, { nil: undefined, freq: 5 }), { maxLength: 4 }),
  tcp: fc.array(routeWeights, { maxLength: 3 }),
  tls: fc.array(routeWeights, { maxLength: 3 }),
});

function buildVirtualService(input: Record<(typeof SECTIONS)[number], Section['routes']>): unknown {
  const spec: Record<string, unknown> = {};
  for (const section of SECTIONS) {
    spec[section] = input[section].map((weights, r) =>
      weights === undefined
        ? { redirect: { uri: '/' } }
        : {
            route: weights.map((weight, d) => ({
              // Distinct hosts per destination: no duplicate warnings to reason about.
              destination: { host: `svc-${section}-${r}-${d}` },
              ...(weight === ABSENT ? {} : { weight }),
            })),
          },
    );
  }
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'vs' }, spec };
}

/** SPEC §3, written as plainly as possible; `sumMessage` is the route's own problem, if any. */
function referenceVerdict(weights: readonly GeneratedWeight[], policy: WeightPolicy): { denied: boolean; sumMessage?: string; singleWarning: boolean } {
  const present = weights.filter((weight) => weight !== ABSENT);
  const invalid = present.some((weight) => !(typeof weight === 'number' && Number.isInteger(weight) && weight >= 0));
  if (invalid) return { denied: true, singleWarning: false };
  const numbers = weights.map((weight) => (weight === ABSENT ? 0 : (weight as number)));
  if (weights.length === 1) return { denied: false, singleWarning: present.length === 1 && numbers[0] !== 100 };
  if (weights.length === 0) return { denied: false, singleWarning: false };
  const sum = numbers.reduce((a, b) => a + b, 0);
  const hint = present.length === 0 ? '; no destination of this route has a weight' : '';
  if (policy === 'proportional') {
    const over = numbers.some((weight) => weight > 4_294_967_295);
    const sumMessage = sum === 0 ? `weights sum to 0; Istio refuses a route whose destinations all have weight 0${hint}` : undefined;
    return { denied: over || sum === 0, sumMessage, singleWarning: false };
  }
  const sumMessage = sum !== 100 ? `weights sum to ${sum}, must be 100${hint}` : undefined;
  return { denied: numbers.some((weight) => weight > 100) || sum !== 100, sumMessage, singleWarning: false };
}

/** Problems at or under this path (`x.route` must not claim `x.route2`). */
const under = (path: string, root: string): boolean => path === root || path.startsWith(`${root}[`) || path.startsWith(`${root}.`);

describe('weights agree with a reference computation', () => {
  it(`for ${RUNS} generated VirtualServices under each --weight-policy`, () => {
    fc.assert(
      fc.property(sections, fc.constantFrom<WeightPolicy>('sum-100', 'proportional'), (input, weightPolicy) => {
        const result = validateVirtualService(buildVirtualService(input), [], { namespace: 'default', settings: { ...defaultRuleSettings, weightPolicy } });
        assert.ok(result.problems.every((problem) => problem.kind === 'weight'));
        let anyDenied = false;
        for (const section of SECTIONS) {
          input[section].forEach((weights, r) => {
            if (weights === undefined) return;
            const routePath = `spec.${section}[${r}].route`;
            const expected = referenceVerdict(weights, weightPolicy);
            anyDenied ||= expected.denied;
            const problems = result.problems.filter((problem) => under(problem.path, routePath));
            assert.equal(problems.length > 0, expected.denied, `${routePath} ${JSON.stringify(weights)}`);
            const sumProblem = problems.find((problem) => problem.path === routePath);
            assert.equal(sumProblem?.message, expected.sumMessage);
            const single = result.warnings.some((warning) => warning.startsWith(`${routePath}[0]: weight `) && warning.includes('only destination'));
            assert.equal(single, expected.singleWarning);
          });
        }
        assert.equal(result.problems.length > 0, anyDenied);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------
// Subsets: in a world without precedence subtleties, a reference is accepted
// exactly when some rule for its host defines it.

describe('subsets agree with a reference computation', () => {
  const namespaces = ['alpha', 'beta'];
  const services = ['reviews', 'ratings'];
  const subsetName = fc.constantFrom('v1', 'v2', 'v3', 'canary');
  const host = fc.record({ service: fc.constantFrom(...services), namespace: fc.constantFrom(...namespaces) });
  const rule = fc.record({ target: host, subsets: fc.uniqueArray(subsetName, { maxLength: 3 }) });
  const reference = fc.record({ target: host, subset: subsetName, form: fc.constantFrom('ns', 'svc', 'fqdn') });

  it(`for ${RUNS} generated worlds`, () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 5 }), fc.array(reference, { minLength: 1, maxLength: 5 }), (rules, references) => {
        const destinationRules: DestinationRule[] = rules.map(({ target, subsets }, i) => ({
          metadata: { name: `dr${i}`, namespace: target.namespace },
          spec: { host: target.service, subsets: subsets.map((name) => ({ name, labels: { version: name } })) },
        }));
        const written = (target: { service: string; namespace: string }, form: string): string =>
          ({ ns: `${target.service}.${target.namespace}`, svc: `${target.service}.${target.namespace}.svc`, fqdn: `${target.service}.${target.namespace}.svc.cluster.local` })[form] ?? '';
        const virtualService = {
          spec: { tcp: [{ route: references.map(({ target, subset, form }) => ({ destination: { host: written(target, form), subset }, weight: 0 })) }] },
        };
        const result = validateVirtualService(virtualService, destinationRules, ctx);
        references.forEach(({ target, subset, form }, i) => {
          const ruled = rules.some((r) => r.target.service === target.service && r.target.namespace === target.namespace);
          const defined = rules.some((r) => r.target.service === target.service && r.target.namespace === target.namespace && r.subsets.includes(subset));
          const subsetDenied = result.problems.some((problem) => problem.kind === 'subset' && problem.path === `spec.tcp[0].route[${i}]`);
          const hostDenied = result.problems.some((problem) => problem.kind === 'host' && problem.path === `spec.tcp[0].route[${i}].destination.host`);
          if (form === 'fqdn') {
            assert.equal(subsetDenied, !defined);
            assert.equal(hostDenied, false);
          } else {
            // SPEC §4: Istio takes `name.ns` and `name.ns.svc` literally, so no subset of them
            // exists; when the full name has rules, the denial says that name instead.
            assert.equal(hostDenied, ruled);
            assert.equal(subsetDenied, !ruled);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------
// Robustness: arbitrary values anywhere never make the rules throw.

const junk = fc.oneof(
  fc.anything({ maxDepth: 4, withNullPrototype: true, withBoxedValues: true, withSparseArray: true, withObjectString: true }),
  fc.jsonValue({ maxDepth: 4 }),
);

/** A plausible VirtualService where any node may be replaced by junk. */
const maybe = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary }, { weight: 1, arbitrary: junk });
const destination = maybe(fc.record({ host: maybe(fc.constantFrom('reviews', 'reviews.prod', 'api.example.com', '*')), subset: maybe(fc.constantFrom('v1', 'v2', '')) }, { requiredKeys: [] }));
const routeEntry = maybe(fc.record({ destination, weight: maybe(fc.integer({ min: -5, max: 105 })) }, { requiredKeys: [] }));
const httpRule = maybe(
  fc.record(
    { route: maybe(fc.array(routeEntry, { maxLength: 4 })), mirror: destination, mirrors: maybe(fc.array(maybe(fc.record({ destination }, { requiredKeys: [] })), { maxLength: 3 })) },
    { requiredKeys: [] },
  ),
);
const tcpRule = maybe(fc.record({ route: maybe(fc.array(routeEntry, { maxLength: 4 })) }, { requiredKeys: [] }));
const spec = maybe(fc.record({ http: maybe(fc.array(httpRule, { maxLength: 3 })), tcp: maybe(fc.array(tcpRule, { maxLength: 2 })), tls: maybe(fc.array(tcpRule, { maxLength: 2 })) }, { requiredKeys: [] }));
const virtualService = maybe(fc.record({ metadata: maybe(fc.record({ namespace: maybe(fc.constant('team')) })), spec }, { requiredKeys: [] }));

const destinationRules = fc.array(
  fc.record({
    metadata: fc.record({ name: fc.string(), namespace: fc.constantFrom('default', 'prod', 'istio-system', 'other') }),
    spec: fc.record({ host: maybe(fc.constantFrom('reviews', '*', '*.prod.svc.cluster.local')), subsets: maybe(fc.array(maybe(fc.record({ name: maybe(fc.constantFrom('v1', 'v2')) })))), exportTo: maybe(fc.array(fc.constantFrom('.', '*', '~', 'default'))) }),
  }),
  { maxLength: 4 },
) as fc.Arbitrary<unknown> as fc.Arbitrary<DestinationRule[]>;

describe('never throws on arbitrary input', () => {
  it(`validateVirtualService, subsetReferences, namespacesToRefresh and formatProblems (${RUNS} runs each kind)`, () => {
    for (const input of [virtualService, junk]) {
      fc.assert(
        fc.property(input, destinationRules, fc.constantFrom('default', ''), (value, rules, namespace) => {
          const context = { ...ctx, namespace };
          const result = validateVirtualService(value, rules, context);
          for (const problem of result.problems) {
            assert.equal(typeof problem.path, 'string');
            assert.ok(problem.message.length > 0);
            assert.ok(['shape', 'weight', 'subset', 'host'].includes(problem.kind));
            // The safety net exists for getters and proxies, not for data.
            assert.ok(!problem.message.startsWith('could not be validated'), problem.message);
          }
          for (const warning of result.warnings) assert.ok(warning.length < 120 && !/[\r\n]/.test(warning), warning);
          const text = formatProblems(result.problems, result.problemCount);
          assert.equal(result.problems.length, Math.min(result.problemCount, MAX_PROBLEM_LINES));
          assert.equal(text === '' ? 0 : text.split('\n').length, Math.min(result.problemCount, MAX_PROBLEM_LINES + 1));
          const references = subsetReferences(value, context);
          assert.equal(references.length >= result.problems.filter((problem) => problem.kind === 'subset').length, true);
          const refresh = namespacesToRefresh(value, context);
          assert.equal(new Set(refresh).size, refresh.length);
          assert.ok(refresh.includes('istio-system'));
        }),
        { numRuns: RUNS },
      );
    }
  });
});
