import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { defaultRuleSettings, type Problem, type ValidationContext } from '../src/rules/types.js';
import { formatProblems, MAX_PROBLEM_LINES, MAX_WARNINGS, validateVirtualService } from '../src/rules/validate.js';

const ctx: ValidationContext = { namespace: 'default', settings: defaultRuleSettings };

const ABSENT = Symbol('absent');
type Weight = unknown | typeof ABSENT;

/** One route; destination i goes to host `svc<i>` (no subsets, so only weights matter). */
function route(...weights: Weight[]): unknown[] {
  return weights.map((weight, i) => ({ destination: { host: `svc${i}` }, ...(weight === ABSENT ? {} : { weight }) }));
}

const validate = (virtualService: unknown) => validateVirtualService(virtualService, [], ctx);
const lines = (problems: readonly Problem[]): string[] => problems.map((problem) => `${problem.path}: ${problem.message}`);

describe('weights in one http route', () => {
  const cases: Array<{ name: string; weights: Weight[]; problems: string[]; warnings?: string[] }> = [
    { name: '90/10 is allowed', weights: [90, 10], problems: [] },
    { name: '100/0 is allowed, the 0 warned about', weights: [100, 0], problems: [], warnings: ['spec.http[0].route[1]: weight 0; this destination gets no traffic'] },
    { name: '50/25/25 is allowed', weights: [50, 25, 25], problems: [] },
    { name: '90/5 sums to 95', weights: [90, 5], problems: ['spec.http[0].route: weights sum to 95, must be 100'] },
    { name: '0/0 sums to 0', weights: [0, 0], problems: ['spec.http[0].route: weights sum to 0, must be 100'], warnings: ['spec.http[0].route[0]: weight 0; this destination gets no traffic', 'spec.http[0].route[1]: weight 0; this destination gets no traffic'] },
    {
      name: 'missing weights with two destinations count as 0',
      weights: [ABSENT, ABSENT],
      problems: ['spec.http[0].route: weights sum to 0, must be 100; no destination of this route has a weight'],
      warnings: ['spec.http[0].route[0]: no weight (counts as 0); this destination gets no traffic', 'spec.http[0].route[1]: no weight (counts as 0); this destination gets no traffic'],
    },
    { name: '100 and a missing weight is allowed', weights: [100, ABSENT], problems: [], warnings: ['spec.http[0].route[1]: no weight (counts as 0); this destination gets no traffic'] },
    { name: '90 and a missing weight sums to 90', weights: [90, ABSENT], problems: ['spec.http[0].route: weights sum to 90, must be 100'], warnings: ['spec.http[0].route[1]: no weight (counts as 0); this destination gets no traffic'] },
    { name: '-1 is denied', weights: [101, -1], problems: ['spec.http[0].route[0].weight: 101 is more than 100', 'spec.http[0].route[1].weight: must be an integer >= 0, got -1 (number)'] },
    { name: '150/-50 names both', weights: [150, -50], problems: ['spec.http[0].route[0].weight: 150 is more than 100', 'spec.http[0].route[1].weight: must be an integer >= 0, got -50 (number)'] },
    { name: '150/50 is over 100 and sums to 200', weights: [150, 50], problems: ['spec.http[0].route: weights sum to 200, must be 100', 'spec.http[0].route[0].weight: 150 is more than 100'] },
    { name: '33.3 is not an integer', weights: [33.3, 66.7], problems: ['spec.http[0].route[0].weight: must be an integer >= 0, got 33.3 (number)', 'spec.http[0].route[1].weight: must be an integer >= 0, got 66.7 (number)'] },
    { name: '"10" is a string', weights: [90, '10'], problems: ['spec.http[0].route[1].weight: must be an integer >= 0, got "10" (string)'] },
    { name: 'null is not a weight', weights: [100, null], problems: ['spec.http[0].route[1].weight: must be an integer >= 0, got null'] },
    { name: 'true is not a weight', weights: [true, 100], problems: ['spec.http[0].route[0].weight: must be an integer >= 0, got true (boolean)'] },
    { name: 'an object is not a weight', weights: [{ value: 100 }, 0], problems: ['spec.http[0].route[0].weight: must be an integer >= 0, got an object'], warnings: ['spec.http[0].route[1]: weight 0; this destination gets no traffic'] },
    { name: 'a list is not a weight', weights: [[50], 50], problems: ['spec.http[0].route[0].weight: must be an integer >= 0, got a list'] },
    { name: 'a long string is shortened', weights: ['x'.repeat(500), 100], problems: [`spec.http[0].route[0].weight: must be an integer >= 0, got "${'x'.repeat(39)}…" (string)`] },
    { name: 'one destination without weight is allowed silently', weights: [ABSENT], problems: [] },
    { name: 'one destination at 100 is allowed silently', weights: [100], problems: [] },
    { name: 'one destination at 0 is allowed with a warning', weights: [0], problems: [], warnings: ['spec.http[0].route[0]: weight 0 on the only destination; it still gets 100% of traffic'] },
    { name: 'one destination at 50 is allowed with a warning', weights: [50], problems: [], warnings: ['spec.http[0].route[0]: weight 50 on the only destination; it still gets 100% of traffic'] },
    { name: 'one destination at 250 is allowed with a warning', weights: [250], problems: [], warnings: ['spec.http[0].route[0]: weight 250 on the only destination; it still gets 100% of traffic'] },
    { name: 'one destination at -1 is still denied', weights: [-1], problems: ['spec.http[0].route[0].weight: must be an integer >= 0, got -1 (number)'] },
    { name: 'one destination at "100" is still denied', weights: ['100'], problems: ['spec.http[0].route[0].weight: must be an integer >= 0, got "100" (string)'] },
    { name: 'an empty route has nothing to weigh', weights: [], problems: [] },
  ];
  for (const { name, weights, problems, warnings = [] } of cases) {
    it(name, () => {
      const result = validate({ spec: { http: [{ route: route(...weights) }] } });
      assert.deepEqual(lines(result.problems), problems);
      assert.deepEqual(result.warnings, warnings);
      assert.ok(result.problems.every((problem) => problem.kind === 'weight'));
    });
  }
});

describe('weights under --weight-policy=proportional', () => {
  const proportional: ValidationContext = { namespace: 'default', settings: { ...defaultRuleSettings, weightPolicy: 'proportional' } };
  const cases: Array<{ name: string; weights: Weight[]; problems: string[]; warnings?: string[] }> = [
    { name: '90/10 is allowed silently', weights: [90, 10], problems: [] },
    { name: '30/30 is allowed, the sum warned about', weights: [30, 30], problems: [], warnings: ['spec.http[0].route: weights sum to 60, not 100; each destination gets weight/60 of traffic'] },
    { name: '1/2/3 is allowed with a warning', weights: [1, 2, 3], problems: [], warnings: ['spec.http[0].route: weights sum to 6, not 100; each destination gets weight/6 of traffic'] },
    { name: '150/50 is allowed with a warning', weights: [150, 50], problems: [], warnings: ['spec.http[0].route: weights sum to 200, not 100; each destination gets weight/200 of traffic'] },
    { name: 'the largest uint32 is a weight', weights: [4_294_967_295, 1], problems: [], warnings: ['spec.http[0].route: weights sum to 4294967296, not 100; each destination gets weight/4294967296 of traffic'] },
    { name: 'one more than the largest uint32 is not', weights: [4_294_967_296, 1], problems: ['spec.http[0].route[0].weight: 4294967296 is more than 4294967295'] },
    {
      name: '0/0 is denied',
      weights: [0, 0],
      problems: ['spec.http[0].route: weights sum to 0; Istio refuses a route whose destinations all have weight 0'],
      warnings: ['spec.http[0].route[0]: weight 0; this destination gets no traffic', 'spec.http[0].route[1]: weight 0; this destination gets no traffic'],
    },
    {
      name: 'missing/missing is denied and says no destination has a weight',
      weights: [ABSENT, ABSENT],
      problems: ['spec.http[0].route: weights sum to 0; Istio refuses a route whose destinations all have weight 0; no destination of this route has a weight'],
      warnings: ['spec.http[0].route[0]: no weight (counts as 0); this destination gets no traffic', 'spec.http[0].route[1]: no weight (counts as 0); this destination gets no traffic'],
    },
    { name: '0 and missing is denied', weights: [0, ABSENT], problems: ['spec.http[0].route: weights sum to 0; Istio refuses a route whose destinations all have weight 0'], warnings: ['spec.http[0].route[0]: weight 0; this destination gets no traffic', 'spec.http[0].route[1]: no weight (counts as 0); this destination gets no traffic'] },
    { name: '100/0 is allowed, the 0 warned about', weights: [100, 0], problems: [], warnings: ['spec.http[0].route[1]: weight 0; this destination gets no traffic'] },
    { name: '-1 is still denied', weights: [101, -1], problems: ['spec.http[0].route[1].weight: must be an integer >= 0, got -1 (number)'] },
    { name: '33.3 is still not an integer', weights: [33.3, 66], problems: ['spec.http[0].route[0].weight: must be an integer >= 0, got 33.3 (number)'] },
    { name: 'one destination at 0 is allowed with a warning', weights: [0], problems: [], warnings: ['spec.http[0].route[0]: weight 0 on the only destination; it still gets 100% of traffic'] },
    { name: 'one destination without weight is allowed silently', weights: [ABSENT], problems: [] },
  ];
  for (const { name, weights, problems, warnings = [] } of cases) {
    it(name, () => {
      for (const kind of ['http', 'tcp', 'tls']) {
        const result = validateVirtualService({ spec: { [kind]: [{ route: route(...weights) }] } }, [], proportional);
        const at = (text: string) => text.replace('spec.http', `spec.${kind}`);
        assert.deepEqual(lines(result.problems), problems.map(at), kind);
        assert.deepEqual(result.warnings, warnings.map(at), kind);
      }
    });
  }
});

describe('weights across http, tcp and tls', () => {
  it('reports every problem of every section in one result, with paths', () => {
    const result = validate({
      spec: {
        http: [
          { redirect: { uri: '/elsewhere' } },
          { route: route(90, 10) },
          { route: route(80, 10) },
          { delegate: { name: 'reviews', namespace: 'prod' } },
          { directResponse: { status: 503 } },
          { route: route(50, 50, '1') },
        ],
        tcp: [{ route: route(70, 20) }],
        tls: [{ route: route(90, 10) }, { route: route(60, 60) }],
      },
    });
    assert.deepEqual(lines(result.problems), [
      'spec.http[2].route: weights sum to 90, must be 100',
      'spec.http[5].route[2].weight: must be an integer >= 0, got "1" (string)',
      'spec.tcp[0].route: weights sum to 90, must be 100',
      'spec.tls[1].route: weights sum to 120, must be 100',
    ]);
    assert.deepEqual(result.warnings, []);
  });

  it('orders problems as the manifest reads: http[2] before http[10]', () => {
    const http = Array.from({ length: 11 }, (_, i) => ({ route: i === 2 || i === 10 ? route(1, 1) : route(100) }));
    assert.deepEqual(
      validate({ spec: { http } }).problems.map((problem) => problem.path),
      ['spec.http[2].route', 'spec.http[10].route'],
    );
  });

  it('warns once per repeated host+subset (and port) in a route', () => {
    const destination = (host: string, subset?: string, port?: number) => ({ host, ...(subset ? { subset } : {}), ...(port ? { port: { number: port } } : {}) });
    const result = validate({
      spec: {
        tcp: [
          {
            route: [
              { destination: destination('reviews'), weight: 40 },
              { destination: destination('reviews.default.svc.cluster.local'), weight: 30 },
              { destination: destination('reviews', undefined, 9080), weight: 10 },
              // Another spelling of the same host (`reviews.default` would not be: Istio takes it literally).
              { destination: destination('Reviews.Default.svc.cluster.local'), weight: 20 },
            ],
          },
        ],
      },
    });
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.warnings, [
      'spec.tcp[0].route[1]: same destination as route[0] (reviews.default.svc.cluster.local)',
      'spec.tcp[0].route[3]: same destination as route[0] (reviews.default.svc.cluster.local)',
    ]);
  });

  it('keeps every warning short and on one line', () => {
    const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.example.com`;
    const result = validate({
      spec: { http: [{ route: [{ destination: { host: long, subset: 'v\n1' }, weight: 50 }, { destination: { host: long, subset: 'v\n1' }, weight: 50 }] }] },
    });
    assert.equal(result.warnings.length, 1);
    for (const warning of result.warnings) {
      assert.ok(warning.length < 120, warning);
      assert.doesNotMatch(warning, /\n/);
    }
  });

  it('caps the number of warnings and says how many were left out', () => {
    const http = Array.from({ length: 50 }, () => ({ route: route(0) }));
    const { warnings } = validate({ spec: { http } });
    assert.equal(warnings.length, MAX_WARNINGS);
    assert.equal(warnings.at(-1), `... and ${50 - MAX_WARNINGS + 1} more warnings`);
  });
});

describe('malformed VirtualServices are clean shape problems', () => {
  const cases: Array<{ name: string; input: unknown; problems: string[] }> = [
    { name: 'not an object', input: 'reviews', problems: ['$: a VirtualService must be an object, got "reviews" (string)'] },
    { name: 'null', input: null, problems: ['$: a VirtualService must be an object, got null'] },
    { name: 'a list', input: [], problems: ['$: a VirtualService must be an object, got a list'] },
    { name: 'spec missing', input: { metadata: { name: 'x' } }, problems: ['spec: is missing; a VirtualService needs a spec with http, tcp or tls routes'] },
    { name: 'spec null', input: { spec: null }, problems: ['spec: must be an object, got null'] },
    { name: 'spec a string', input: { spec: 'http' }, problems: ['spec: must be an object, got "http" (string)'] },
    { name: 'spec empty', input: { spec: {} }, problems: [] },
    { name: 'http not a list', input: { spec: { http: { route: [] } } }, problems: ['spec.http: must be a list, got an object'] },
    { name: 'http null', input: { spec: { http: null } }, problems: ['spec.http: must be a list, got null'] },
    { name: 'tcp a number', input: { spec: { tcp: 3 } }, problems: ['spec.tcp: must be a list, got 3 (number)'] },
    { name: 'an http entry not an object', input: { spec: { http: [42] } }, problems: ['spec.http[0]: must be an object, got 42 (number)'] },
    { name: 'route not a list', input: { spec: { tls: [{ route: 'reviews' }] } }, problems: ['spec.tls[0].route: must be a list, got "reviews" (string)'] },
    {
      name: 'a route entry not an object (no sum is computed over it)',
      input: { spec: { http: [{ route: [{ destination: { host: 'a' }, weight: 10 }, 'b'] }] } },
      problems: ['spec.http[0].route[1]: must be an object with a destination, got "b" (string)'],
    },
    { name: 'destination missing', input: { spec: { http: [{ route: [{ weight: 100 }] }] } }, problems: ['spec.http[0].route[0].destination: is missing; it needs at least a host'] },
    { name: 'destination a string', input: { spec: { tcp: [{ route: [{ destination: 'reviews' }] }] } }, problems: ['spec.tcp[0].route[0].destination: must be an object with a host, got "reviews" (string)'] },
    { name: 'host missing', input: { spec: { http: [{ route: [{ destination: { subset: 'v1' } }] }] } }, problems: ['spec.http[0].route[0].destination.host: is missing'] },
    { name: 'host not a string', input: { spec: { http: [{ route: [{ destination: { host: ['reviews'] } }] }] } }, problems: ['spec.http[0].route[0].destination.host: must be a string, got a list'] },
    { name: 'host empty', input: { spec: { http: [{ route: [{ destination: { host: ' ' } }] }] } }, problems: ['spec.http[0].route[0].destination.host: must not be empty'] },
    { name: 'subset not a string', input: { spec: { http: [{ route: [{ destination: { host: 'a', subset: 1 } }] }] } }, problems: ['spec.http[0].route[0].destination.subset: must be a string, got 1 (number)'] },
    { name: 'mirror a string', input: { spec: { http: [{ mirror: 'reviews' }] } }, problems: ['spec.http[0].mirror: must be an object with a host, got "reviews" (string)'] },
    { name: 'mirrors not a list', input: { spec: { http: [{ mirrors: {} }] } }, problems: ['spec.http[0].mirrors: must be a list, got an object'] },
    {
      name: 'mirrors entries without destination',
      input: { spec: { http: [{ mirrors: [{ percentage: { value: 5 } }, 7] }] } },
      problems: ['spec.http[0].mirrors[0].destination: is missing; it needs at least a host', 'spec.http[0].mirrors[1]: must be an object with a destination, got 7 (number)'],
    },
    {
      name: 'shape and weight problems together',
      input: { spec: { http: [{ route: [{ destination: { host: 3 }, weight: 60 }, { destination: { host: 'b' }, weight: 30 }] }] } },
      problems: ['spec.http[0].route: weights sum to 90, must be 100', 'spec.http[0].route[0].destination.host: must be a string, got 3 (number)'],
    },
    { name: 'inherited keys are not fields', input: JSON.parse('{"spec":{"http":[{"__proto__":{"route":"x"}}]}}') as unknown, problems: [] },
  ];
  for (const { name, input, problems } of cases) {
    it(name, () => {
      const result = validate(input);
      assert.deepEqual(lines(result.problems), problems);
      assert.ok(result.problems.filter((problem) => !problem.message.includes('weights sum')).every((problem) => problem.kind === 'shape'));
    });
  }

  it('reports a hole in a sparse list (possible in-process) instead of skipping it', () => {
    const entries: unknown[] = [{ destination: { host: 'a' }, weight: 100 }];
    entries.length = 2;
    assert.deepEqual(lines(validate({ spec: { http: [{ route: entries }] } }).problems), [
      'spec.http[0].route[1]: must be an object with a destination, got a value of type undefined',
    ]);
  });

  it('survives deeply nested junk without a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { weight: deep, route: deep, destination: deep };
    for (const input of [deep, { spec: deep }, { spec: { http: deep } }, { spec: { http: [{ route: [{ destination: deep, weight: deep }] }] } }]) {
      const result = validate(input);
      assert.ok(Array.isArray(result.problems));
      assert.ok(result.problems.every((problem) => !problem.message.startsWith('could not be validated')));
    }
  });

  it('reports every problem of a huge route and caps the denial text (its speed is in bench/adversarial)', () => {
    const entries = Array.from({ length: 200_000 }, (_, i) => ({ destination: { host: `svc${i}` }, weight: -1 }));
    const result = validate({ spec: { http: [{ route: entries }] } });
    assert.equal(result.problemCount, 200_000);
    const text = formatProblems(result.problems, result.problemCount);
    assert.equal(text.split('\n').length, MAX_PROBLEM_LINES + 1);
    assert.match(text, new RegExp(`\\.\\.\\. and ${200_000 - MAX_PROBLEM_LINES} more problems$`));
  });

  it('turns a throwing getter (not JSON, but possible in-process) into a denial, not an exception', () => {
    const hostile = {
      get spec(): unknown {
        throw new Error('boom');
      },
    };
    assert.deepEqual(validate(hostile).problems, [{ path: '$', kind: 'shape', message: 'could not be validated: boom' }]);
  });
});

describe('formatProblems', () => {
  it('prints one path: message per line', () => {
    assert.equal(
      formatProblems([
        { path: 'spec.http[0].route', kind: 'weight', message: 'weights sum to 90, must be 100' },
        { path: 'spec.tcp[0].route[1]', kind: 'subset', message: 'subset "v3" of host x is not defined' },
      ]),
      'spec.http[0].route: weights sum to 90, must be 100\nspec.tcp[0].route[1]: subset "v3" of host x is not defined',
    );
    assert.equal(formatProblems([]), '');
  });

  it('keeps a problem on one line even when input text carries newlines', () => {
    assert.equal(formatProblems([{ path: 'p', kind: 'shape', message: 'a\nb' }]), 'p: a\\u000ab');
  });
});
