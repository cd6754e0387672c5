// The generated ValidatingAdmissionPolicy and the webhook's weight rule give
// the same verdict (SPEC §8: the webhook stays the reference, a test proves
// they agree). Only the per-object weight verdict is compared: subsets need
// other objects, which CEL cannot see.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { policyManifests } from '../src/policy/manifest.js';
import { defaultRuleSettings, type WeightPolicy } from '../src/rules/types.js';
import { validateVirtualService } from '../src/rules/validate.js';
import { compilePolicy, pruneNulls, type CompiledPolicy, type Json } from './support/cel-admission.js';

const RUNS_PER_POLICY = 2_000;
const POLICIES: WeightPolicy[] = ['sum-100', 'proportional'];
const KINDS = ['http', 'tcp', 'tls'] as const;
const ABSENT = Symbol('absent');
type Weight = Json | typeof ABSENT;

const compiled = new Map<WeightPolicy, CompiledPolicy>(
  POLICIES.map((weightPolicy) => {
    const [policy] = policyManifests({ weightPolicy, namespace: 'canary-webhook' });
    return [weightPolicy, compilePolicy((policy as { spec: Parameters<typeof compilePolicy>[0] }).spec)];
  }),
);

interface Verdicts {
  webhookDenied: boolean;
  webhookLines: string[];
  policyDenied: boolean;
  policyMessages: string[];
  policyErrors: string[];
}

/** Both sides see the object as the API server passes it on: nulls pruned. */
function verdicts(object: Json, weightPolicy: WeightPolicy): Verdicts {
  const admitted = pruneNulls(object);
  const result = validateVirtualService(admitted, [], { namespace: 'default', settings: { ...defaultRuleSettings, weightPolicy } });
  const weightProblems = result.problems.filter((problem) => problem.kind === 'weight');
  const policy = compiled.get(weightPolicy)!(admitted);
  return {
    webhookDenied: weightProblems.length > 0,
    webhookLines: weightProblems.map((problem) => `${problem.path}: ${problem.message}`),
    policyDenied: !policy.allowed,
    policyMessages: policy.messages,
    policyErrors: policy.errors,
  };
}

function assertAgree(object: Json, weightPolicy: WeightPolicy, label: string): Verdicts {
  const v = verdicts(object, weightPolicy);
  assert.deepEqual(v.policyErrors, [], `${label}: the CEL must not fail to evaluate`);
  assert.equal(v.policyDenied, v.webhookDenied, `${label} (${weightPolicy}): webhook ${JSON.stringify(v.webhookLines)}, policy ${JSON.stringify(v.policyMessages)}`);
  return v;
}

function routeOf(weights: readonly Weight[]): Json {
  return weights.map((weight, i) => ({ destination: { host: `svc${i}` }, ...(weight === ABSENT ? {} : { weight }) }));
}

/** Integer weights only: what Istio's structural schema lets through. */
const integerWeight: fc.Arbitrary<Weight> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 100 }) },
  { weight: 3, arbitrary: fc.constant(ABSENT) },
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: -1 }) },
  { weight: 2, arbitrary: fc.integer({ min: 101, max: 1_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4_294_967_290, max: 4_294_967_300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 40 }) },
);

/** What a client could send that the schema would refuse or prune; the CEL is still total over it. */
const offSchemaWeight: fc.Arbitrary<Weight> = fc.oneof(fc.double({ min: -10, max: 110, noNaN: true }), fc.constantFrom<Weight>('10', null, true));

const splitOf100: fc.Arbitrary<Weight[]> = fc
  .array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 4 })
  .map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), 100];
    return points.slice(1).map((point, i) => point - (points[i] ?? 0));
  });

function routeWeights(weight: fc.Arbitrary<Weight>): fc.Arbitrary<Weight[]> {
  return fc.oneof({ weight: 4, arbitrary: fc.array(weight, { maxLength: 5 }) }, { weight: 2, arbitrary: splitOf100 }, { weight: 1, arbitrary: fc.array(fc.constant<Weight>(ABSENT), { minLength: 2, maxLength: 3 }) });
}

/** A rule: with a route list, with none (redirect, delegate), or with an empty one. */
function rule(weight: fc.Arbitrary<Weight>): fc.Arbitrary<Json> {
  return fc.oneof(
    { weight: 8, arbitrary: routeWeights(weight).map((weights) => ({ route: routeOf(weights) })) },
    { weight: 1, arbitrary: fc.constant<Json>({ redirect: { uri: '/' } }) },
    { weight: 1, arbitrary: fc.constant<Json>({ route: [] }) },
  );
}

function virtualService(weight: fc.Arbitrary<Weight>): fc.Arbitrary<Json> {
  const sections = fc.record({ http: fc.array(rule(weight), { maxLength: 4 }), tcp: fc.array(rule(weight), { maxLength: 3 }), tls: fc.array(rule(weight), { maxLength: 3 }) }, { requiredKeys: [] });
  return fc.oneof({ weight: 20, arbitrary: sections.map((spec) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'vs' }, spec })) }, { weight: 1, arbitrary: fc.constant<Json>({ metadata: { name: 'no-spec' } }) });
}

describe('the generated ValidatingAdmissionPolicy agrees with the weight rule', () => {
  for (const weightPolicy of POLICIES) {
    it(`on ${RUNS_PER_POLICY} generated VirtualServices under ${weightPolicy}, messages included`, (t) => {
      let denied = 0;
      fc.assert(
        fc.property(virtualService(integerWeight), (object) => {
          const v = assertAgree(object, weightPolicy, 'generated');
          if (v.policyDenied) denied++;
          // Each failing section's message is the webhook's own line, or its start (the webhook adds the value's type).
          for (const message of v.policyMessages) {
            assert.ok(v.webhookLines.some((line) => line.startsWith(message)), `policy said ${JSON.stringify(message)}; webhook said ${JSON.stringify(v.webhookLines)}`);
          }
        }),
        { numRuns: RUNS_PER_POLICY },
      );
      t.diagnostic(`${weightPolicy}: ${RUNS_PER_POLICY} VirtualServices, ${denied} denied by both, ${RUNS_PER_POLICY - denied} admitted by both`);
      // Not a vacuous agreement: both verdicts occur often.
      assert.ok(denied > RUNS_PER_POLICY / 10 && denied < RUNS_PER_POLICY * 0.9, `${denied} of ${RUNS_PER_POLICY} denied`);
    });

    it(`on 500 VirtualServices with weights the schema would refuse, under ${weightPolicy}`, () => {
      fc.assert(
        fc.property(virtualService(fc.oneof({ weight: 3, arbitrary: integerWeight }, { weight: 1, arbitrary: offSchemaWeight })), (object) => {
          assertAgree(object, weightPolicy, 'off-schema');
        }),
        { numRuns: 500 },
      );
    });
  }
});

// The inputs of test/validate-weights.test.ts's tables (both policies' tables), in every section.
const tableCases: Weight[][] = [
  [90, 10], [100, 0], [50, 25, 25], [90, 5], [0, 0], [ABSENT, ABSENT], [100, ABSENT], [90, ABSENT], [101, -1], [150, -50], [150, 50],
  [33.3, 66.7], [90, '10'], [100, null], [true, 100], [{ value: 100 }, 0], [[50], 50], ['x'.repeat(500), 100], [ABSENT], [100], [0], [50], [250],
  [-1], ['100'], [], [30, 30], [1, 2, 3], [4_294_967_295, 1], [4_294_967_296, 1], [0, ABSENT], [33.3, 66],
];

describe('the webhook\'s weight table cases agree', () => {
  for (const weightPolicy of POLICIES) {
    it(`all ${tableCases.length} cases in http, tcp and tls under ${weightPolicy}`, () => {
      for (const weights of tableCases) {
        for (const kind of KINDS) {
          assertAgree({ spec: { [kind]: [{ route: routeOf(weights) }] } }, weightPolicy, `${kind} ${JSON.stringify(weights.map((w) => (w === ABSENT ? 'absent' : w)))}`);
        }
      }
    });
  }

  it('the one verdict that differs from the raw-YAML webhook is the API server\'s doing, not the CEL\'s', () => {
    // `weight: null` is pruned before admission: in a cluster both see a missing weight.
    const nullWeight: Json = { spec: { http: [{ route: routeOf([100, null]) }] } };
    assert.equal(verdicts(nullWeight, 'sum-100').webhookDenied, false);
    assert.equal(validateVirtualService(nullWeight, [], { namespace: 'default', settings: defaultRuleSettings }).problems.length, 1, 'offline, the raw null is denied');
  });
});
