// cloneTree must give exactly what structuredClone gives, only faster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cloneTree } from '../src/rules/clone.js';

describe('cloneTree', () => {
  it('equals structuredClone on any JSON value, and shares nothing with the input', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const copy = cloneTree(value);
      assert.deepStrictEqual(copy, structuredClone(value));
      if (typeof value === 'object' && value !== null) assert.notEqual(copy, value);
    }), { numRuns: 500 });
  });

  it('keeps an own "__proto__" key a plain property, as JSON.parse and structuredClone do', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = cloneTree(parsed);
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.keys(copy), ['__proto__', 'a']);
    assert.deepStrictEqual(copy, structuredClone(parsed));
  });

  it('falls back to structuredClone where a tree copy would differ', () => {
    const shared = { x: 1 };
    const aliased = cloneTree({ a: shared, b: shared });
    assert.equal(aliased.a, aliased.b, 'a shared object stays shared');
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const loop = cloneTree(cyclic);
    assert.equal(loop.self, loop);
    const date = new Date(0);
    assert.ok(cloneTree({ when: date }).when instanceof Date);
    // eslint-disable-next-line no-sparse-arrays
    const holes = cloneTree([1, , 3]);
    assert.equal(1 in holes, false);
    const extra = Object.assign([1, 2], { note: 'x' });
    assert.deepStrictEqual(cloneTree(extra), structuredClone(extra));
    assert.deepStrictEqual(cloneTree({ n: -0, big: 10n, u: undefined }), structuredClone({ n: -0, big: 10n, u: undefined }));
    assert.throws(() => cloneTree({ f: () => 1 }), /could not be cloned/);
  });
});
