// SPEC §3's per-object weight rules, written in CEL for a
// ValidatingAdmissionPolicy: the API server enforces them in-process, so they
// hold while no webhook replica answers. src/rules/weights.ts stays the
// reference; test/policy-agreement.test.ts evaluates this CEL against it.
//
// Built per route section (http, tcp, tls) from a few named variables, so
// each piece reads on its own in `kubectl get validatingadmissionpolicy -o yaml`:
//   <kind>Weights         every route's weights, a missing one as 0
//   <kind>BadRoutes       the routes the rule refuses
//   <kind>FirstBad        the first of them ...
//   <kind>FirstBadIndex   ... and its index, for the message
//   <kind>FirstBadWeights its weights that are wrong on their own
// Only the message reads the last three; the API server evaluates a variable
// when it is first read, so an admitted object never pays for them.
import type { WeightPolicy } from '../rules/types.js';
import { maxWeight, NO_WEIGHT_HINT } from '../rules/weights.js';

export const ROUTE_KINDS = ['http', 'tcp', 'tls'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

export interface CelVariable {
  name: string;
  expression: string;
}

export interface CelValidation {
  expression: string;
  messageExpression: string;
  message: string;
  /** HTTP 403, as the webhook's denials (SPEC §5); Kubernetes' default would be Invalid (422). */
  reason: 'Forbidden';
}

export interface WeightCel {
  variables: CelVariable[];
  validations: CelValidation[];
}

/**
 * A weight SPEC §3 allows at all. The API server's structural schema already
 * makes every weight an integer; `type(w) == int` keeps the expression total
 * on any JSON (the agreement test feeds it strings and fractions too).
 */
const isWeight = (w: string): string => `type(${w}) == int && ${w} >= 0`;

/** True when the route whose weights are `ws` (a list of ints) passes under `policy`. */
export function routeAllowed(ws: string, policy: WeightPolicy): string {
  const inRange = `${ws}.all(w, ${isWeight('w')} && w <= ${maxWeight(policy)})`;
  // Two or more destinations: never all zero (Istio refuses it); sum-100 also wants the exact sum.
  const total = policy === 'sum-100' ? `${ws}.sum() == 100` : `${ws}.exists(w, w > 0)`;
  return `size(${ws}) < 2 ? ${ws}.all(w, ${isWeight('w')}) : ${inRange} && ${total}`;
}

export function weightCel(policy: WeightPolicy): WeightCel {
  const variables: CelVariable[] = [];
  const validations: CelValidation[] = [];
  for (const kind of ROUTE_KINDS) {
    const v = (suffix: string) => `variables.${kind}${suffix}`;
    const section = `object.spec.${kind}`;
    variables.push(
      {
        name: `${kind}Weights`,
        expression: `has(object.spec) && has(${section}) ? ${section}.map(r, has(r.route) ? r.route.map(d, has(d.weight) ? d.weight : 0) : []) : []`,
      },
      { name: `${kind}BadRoutes`, expression: `${v('Weights')}.filter(ws, !(${routeAllowed('ws', policy)}))` },
      { name: `${kind}FirstBad`, expression: `${v('BadRoutes')}[0]` },
      // The first route equal to the first bad one is that one: equal weights, equal verdict.
      { name: `${kind}FirstBadIndex`, expression: `${v('Weights')}.indexOf(${v('FirstBad')})` },
      {
        name: `${kind}FirstBadWeights`,
        expression: `${v('FirstBad')}.filter(w, !(${isWeight('w')} && (size(${v('FirstBad')}) < 2 || w <= ${maxWeight(policy)})))`,
      },
    );
    validations.push({
      expression: `size(${v('BadRoutes')}) == 0`,
      messageExpression: messageExpression(kind, policy),
      message: staticMessage(kind, policy),
      reason: 'Forbidden',
    });
  }
  return { variables, validations };
}

/** The webhook's wording for the first problem of the first bad route (the webhook lists them all). */
function messageExpression(kind: RouteKind, policy: WeightPolicy): string {
  const v = (suffix: string) => `variables.${kind}${suffix}`;
  const badWeight = `${v('FirstBadWeights')}[0]`;
  const weightProblem =
    `'[' + string(${v('FirstBad')}.indexOf(${badWeight})) + '].weight: ' + ` +
    `(${isWeight(badWeight)} ? string(${badWeight}) + ' is more than ${maxWeight(policy)}' : 'must be an integer >= 0, got ' + string(${badWeight}))`;
  const hint = `(object.spec.${kind}[${v('FirstBadIndex')}].route.exists(d, has(d.weight)) ? '' : '; ${NO_WEIGHT_HINT}')`;
  const sumProblem =
    policy === 'sum-100'
      ? `': weights sum to ' + string(${v('FirstBad')}.sum()) + ', must be 100' + ${hint}`
      : `': weights sum to 0; Istio refuses a route whose destinations all have weight 0' + ${hint}`;
  return `'spec.${kind}[' + string(${v('FirstBadIndex')}) + '].route' + (size(${v('FirstBadWeights')}) > 0 ? ${weightProblem} : ${sumProblem})`;
}

/** Shown when the message expression itself cannot be evaluated. */
function staticMessage(kind: RouteKind, policy: WeightPolicy): string {
  const rule =
    policy === 'sum-100'
      ? 'with two or more destinations, each at most 100 and summing to 100'
      : `with two or more destinations, each at most ${maxWeight(policy)} and not all 0`;
  return `spec.${kind}: route weights must be integers >= 0 and, ${rule}`;
}
