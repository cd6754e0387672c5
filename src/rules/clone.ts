// structuredClone, several times faster on what admission objects are: trees
// of plain objects, arrays and primitives. structuredClone goes through V8's
// serializer (~18 µs for a 3.5 KB Deployment, a seventh of a whole mutating
// review); copying the tree directly takes ~3 µs. Anything a JSON tree cannot
// hold (a Date, a Map, a function, an array with holes or extra keys, an
// object reached twice, as YAML aliases or in-process callers can produce) is
// left to structuredClone itself, so the result is always what it would give.

class NotATree extends Error {}
const notATree = new NotATree();

export function cloneTree<T>(value: T): T {
  const seen = new Set<object>();
  try {
    return copy(value, seen) as T;
  } catch (error) {
    if (error === notATree) return structuredClone(value);
    throw error;
  }
}

function copy(value: unknown, seen: Set<object>): unknown {
  if (typeof value !== 'object') {
    if (typeof value === 'function' || typeof value === 'symbol') throw notATree;
    return value;
  }
  if (value === null) return value;
  // Shared or cyclic references: structuredClone keeps them shared.
  if (seen.has(value)) throw notATree;
  seen.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw notATree;
    const length = value.length;
    const out = new Array<unknown>(length);
    let own = 0;
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      own += 1;
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index >= length || String(index) !== key) throw notATree;
      out[index] = copy(value[index], seen);
    }
    if (own !== length) throw notATree; // holes
    return out;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw notATree;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = copy((value as Record<string, unknown>)[key], seen);
    // An own "__proto__" key (JSON.parse makes one) stays a plain property, as structuredClone keeps it.
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}
