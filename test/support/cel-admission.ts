// Evaluates a ValidatingAdmissionPolicy's CEL the way the API server does,
// with @bufbuild/cel: JSON integers become CEL ints (the structural schema
// types `weight` as integer), variables are bound by name, and the functions
// Kubernetes adds to CEL that the library lacks are supplied here with
// Kubernetes' semantics (k8s.io/apiserver/pkg/cel/library/lists.go):
// `list.sum()` (an error on a non-number, an overflow error past int64) and
// `list.indexOf(x)` (CEL equality). `all`, `exists`, `map`, `filter`, `has`
// and `type` are standard CEL and come with the library.
import { celList, celMethod, CelScalar, isCelError, isCelList, isCelMap, listType, parse, plan, celEnv, type CelInput, type CelValue } from '@bufbuild/cel';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);

const anyList = listType(CelScalar.DYN);

const sum = celMethod('sum', anyList, [], CelScalar.DYN, function (): bigint {
  let total = 0n;
  for (const value of this) {
    if (typeof value !== 'bigint') throw new Error(`no such overload: sum over ${typeof value}`);
    total += value;
    if (total > MAX_INT64 || total < MIN_INT64) throw new Error('integer overflow');
  }
  return total;
});

const indexOf = celMethod('indexOf', anyList, [CelScalar.DYN], CelScalar.INT, function (needle: CelValue): bigint {
  let index = 0n;
  for (const value of this) {
    if (celEquals(value, needle)) return index;
    index++;
  }
  return -1n;
});

const env = celEnv({ funcs: [sum, indexOf] });

/** CEL's equality for the values JSON can carry (numbers compare across int and double). */
function celEquals(a: CelValue, b: CelValue): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) return Number(a) === Number(b) && (typeof a !== 'bigint' || typeof b !== 'bigint' || a === b);
  if (isCelList(a) && isCelList(b)) {
    if (a.size !== b.size) return false;
    const left = [...a];
    const right = [...b];
    return left.every((value, i) => celEquals(value, right[i] as CelValue));
  }
  if (isCelMap(a) && isCelMap(b)) {
    if (a.size !== b.size) return false;
    for (const [key, value] of a.entries()) {
      const other = b.get(key);
      if (other === undefined || !celEquals(value, other)) return false;
    }
    return true;
  }
  return a === b;
}

/**
 * What the API server does to a custom resource before admission that
 * matters here: a `null` in a field whose schema is not nullable is pruned
 * (Istio's CRD schemas mark none nullable), so `weight: null` reaches both
 * the webhook and the policy as a missing weight.
 */
export function pruneNulls(value: Json): Json {
  if (Array.isArray(value)) return value.map(pruneNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== null).map(([key, item]) => [key, pruneNulls(item)]));
}

/** JSON as the API server hands it to CEL: objects as maps, integers as int. */
export function toCel(value: Json): CelInput {
  if (Array.isArray(value)) return celList(value.map(toCel));
  if (value !== null && typeof value === 'object') return new Map(Object.entries(value).map(([key, item]) => [key, toCel(item)]));
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return value;
}

interface PolicySpec {
  variables: Array<{ name: string; expression: string }>;
  validations: Array<{ expression: string; messageExpression?: string; message?: string }>;
}

export interface PolicyVerdict {
  allowed: boolean;
  /** One per failing validation: its messageExpression's value, or the static message when that fails. */
  messages: string[];
  /** Validation expressions that did not evaluate to a boolean (failurePolicy decides; ours is Fail). */
  errors: string[];
}

export type CompiledPolicy = (object: Json) => PolicyVerdict;

/** Parses and plans every expression once; the returned function evaluates one object. */
export function compilePolicy(spec: PolicySpec): CompiledPolicy {
  const compile = (expression: string) => plan(env, parse(expression));
  const variables = spec.variables.map(({ name, expression }) => ({ name, run: compile(expression) }));
  const validations = spec.validations.map((validation) => ({
    ...validation,
    run: compile(validation.expression),
    message: validation.messageExpression === undefined ? undefined : compile(validation.messageExpression),
  }));

  return (object) => {
    const bound = new Map<string, CelInput>();
    const bindings = { object: toCel(object), variables: bound };
    // Variables in order, each seeing the earlier ones. One that fails stays
    // unbound, so an expression reading it fails too: what the API server's
    // lazy evaluation does on first read.
    for (const variable of variables) {
      const value = variable.run(bindings);
      if (!isCelError(value)) bound.set(variable.name, value as CelInput);
    }
    const verdict: PolicyVerdict = { allowed: true, messages: [], errors: [] };
    for (const validation of validations) {
      const result = validation.run(bindings);
      if (result === true) continue;
      verdict.allowed = false;
      if (result !== false) {
        verdict.errors.push(`${validation.expression}: ${isCelError(result) ? result.message : String(result)}`);
        continue;
      }
      const message = validation.message?.(bindings);
      verdict.messages.push(typeof message === 'string' ? message : (validation.messageExpression === undefined ? validation.expression : `${validation.expression} (messageExpression failed)`));
    }
    return verdict;
  };
}
