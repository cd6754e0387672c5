// SPEC §3 "Point at the real mistake": fields guides put in the wrong place
// get their own message at their own path, besides the sum.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

import { defaultRuleSettings, type DestinationRule, type Problem } from '../src/rules/types.js';
import { validateVirtualService } from '../src/rules/validate.js';

const ctx = { namespace: 'default', settings: defaultRuleSettings };
const rules: DestinationRule[] = [
  { metadata: { name: 'reviews', namespace: 'default' }, spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } },
];
const lines = (problems: readonly Problem[]): string[] => problems.map((problem) => `${problem.path}: ${problem.message}`);

/** The widely copied canary guide's VirtualService: a header-match first route, and `weight: 50` inside each destination. */
const guideVirtualService = parse(`
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v1
        weight: 50
    - destination:
        host: reviews
        subset: v2
        weight: 50
  - route:
    - destination:
        host: reviews
        subset: v1
`) as unknown;

describe('weight inside destination (the guide)', () => {
  const result = validateVirtualService(guideVirtualService, rules, ctx);

  it('is denied at spec.http[0].route[0].destination.weight and route[1]’s, each with its own message', () => {
    const own = lines(result.problems).filter((line) => line.includes('.destination.weight'));
    assert.deepEqual(own, [
      'spec.http[0].route[0].destination.weight: weight belongs beside destination, not inside it',
      'spec.http[0].route[1].destination.weight: weight belongs beside destination, not inside it',
    ]);
  });

  it('the sum message stays, at the route, first in document order', () => {
    assert.equal(result.problems[0]?.path, 'spec.http[0].route');
    assert.deepEqual(result.problems.map((problem) => problem.kind), ['weight', 'weight', 'weight']);
  });

  it('with weights moved beside destination, the same VirtualService is allowed', () => {
    const fixed = structuredClone(guideVirtualService) as { spec: { http: Array<{ route: Array<{ destination: Record<string, unknown>; weight?: number }> }> } };
    for (const entry of fixed.spec.http[0]!.route) {
      entry.weight = entry.destination.weight as number;
      delete entry.destination.weight;
    }
    assert.deepEqual(validateVirtualService(fixed, rules, ctx), { problems: [], problemCount: 0, warnings: [] });
  });

  it('a single destination with weight inside is still named (its route has no sum to fail)', () => {
    const single = { spec: { tcp: [{ route: [{ destination: { host: 'reviews', subset: 'v1', weight: 100 } }] }] } };
    assert.deepEqual(lines(validateVirtualService(single, rules, ctx).problems), [
      'spec.tcp[0].route[0].destination.weight: weight belongs beside destination, not inside it',
    ]);
  });
});

describe('destination.name (the pre-v1alpha3 field)', () => {
  it('without host: named at destination.name, with the host to write, instead of "host is missing"', () => {
    const virtualService = { spec: { http: [{ route: [{ destination: { name: 'php-server' } }] }] } };
    assert.deepEqual(lines(validateVirtualService(virtualService, [], ctx).problems), [
      'spec.http[0].route[0].destination.name: is the pre-v1alpha3 field; a destination names its service in host: write host: "php-server"',
    ]);
  });

  it('beside a host: named, so the stray field does not pass unseen', () => {
    const virtualService = { spec: { http: [{ route: [{ destination: { host: 'reviews', name: 'reviews', subset: 'v1' } }] }] } };
    assert.deepEqual(lines(validateVirtualService(virtualService, rules, ctx).problems), [
      'spec.http[0].route[0].destination.name: is the pre-v1alpha3 field; host already names the service, so remove name',
    ]);
  });

  it('in a mirror too', () => {
    const virtualService = { spec: { http: [{ route: [{ destination: { host: 'reviews' } }], mirror: { name: 'reviews' } }] } };
    assert.deepEqual(lines(validateVirtualService(virtualService, [], ctx).problems), [
      'spec.http[0].mirror.name: is the pre-v1alpha3 field; a destination names its service in host: write host: "reviews"',
    ]);
  });

  it('a name that is not a string still gets the message, without a suggestion', () => {
    const virtualService = { spec: { http: [{ route: [{ destination: { name: { deep: ['x'] } } }] }] } };
    assert.deepEqual(lines(validateVirtualService(virtualService, [], ctx).problems), [
      'spec.http[0].route[0].destination.name: is the pre-v1alpha3 field; a destination names its service in host',
    ]);
  });
});

describe('weight on an http[] entry instead of a route destination', () => {
  it('is named at spec.http[0].weight', () => {
    const virtualService = { spec: { http: [{ weight: 100, route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } };
    assert.deepEqual(lines(validateVirtualService(virtualService, rules, ctx).problems), [
      'spec.http[0].weight: weight belongs beside each destination in spec.http[0].route, not on the rule',
    ]);
  });

  it('and on a tcp[] entry', () => {
    const virtualService = { spec: { tcp: [{ weight: 50, route: [{ destination: { host: 'reviews' }, weight: 100 }] }] } };
    assert.deepEqual(lines(validateVirtualService(virtualService, rules, ctx).problems), [
      'spec.tcp[0].weight: weight belongs beside each destination in spec.tcp[0].route, not on the rule',
    ]);
  });
});
