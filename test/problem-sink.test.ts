// The bounded problem list (src/rules/problem-sink.ts) and the numeric
// reference order (src/rules/reference-table.ts) must show exactly what a
// full sort of every problem by path would: the same first lines, the same
// count. The reference comparator below is the one they replaced.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { comparePaths, ProblemSink, sortByPath } from '../src/rules/problem-sink.js';
import { Place, ReferenceTable } from '../src/rules/reference-table.js';
import type { Problem } from '../src/rules/types.js';

function referencePathKey(path: string): Array<string | number> {
  return path.split(/[.[\]]+/).filter((part) => part !== '').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function referenceCompare(a: string, b: string): number {
  const x = referencePathKey(a);
  const y = referencePathKey(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    if (typeof x[i] === 'number' && typeof y[i] === 'number') return (x[i] as number) - (y[i] as number);
    return String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return x.length - y.length;
}

const segment = fc.oneof(fc.constantFrom('spec', 'http', 'tcp', 'tls', 'route', 'mirror', 'mirrors', 'destination', 'weight', 'host', 'subset', 'a', 'ab', '$'), fc.nat(120).map(String));
const path = fc.array(fc.tuple(fc.constantFrom('.', '[', ']', '].', '.['), segment), { minLength: 1, maxLength: 7 }).map((parts) => parts.map(([separator, name], i) => (i === 0 ? name : `${separator}${name}`)).join(''));
const problem = fc.record({ path, kind: fc.constantFrom<Problem['kind']>('shape', 'weight', 'subset', 'host'), message: fc.string({ maxLength: 5 }) });

describe('comparePaths', () => {
  it('orders as splitting at . [ ] and comparing numbers as numbers did, without building strings', () => {
    fc.assert(
      fc.property(path, path, (a, b) => {
        assert.equal(Math.sign(comparePaths(a, b)), Math.sign(referenceCompare(a, b)), `${a} vs ${b}`);
      }),
      { numRuns: 5_000 },
    );
  });

  it('reads a manifest top to bottom', () => {
    const paths = ['spec.http[10].route', 'spec.http[2].route[1].weight', 'spec.http[2].route', 'spec.http[2].mirror', 'spec.tcp[0].route', 'spec.http[2].route[10]', 'spec.http[2].route[9]'];
    assert.deepEqual([...paths].sort(comparePaths), [
      'spec.http[2].mirror',
      'spec.http[2].route',
      'spec.http[2].route[1].weight',
      'spec.http[2].route[9]',
      'spec.http[2].route[10]',
      'spec.http[10].route',
      'spec.tcp[0].route',
    ]);
  });
});

describe('ProblemSink', () => {
  it('keeps what a stable full sort would show first, and counts all', () => {
    fc.assert(
      fc.property(fc.array(problem, { maxLength: 60 }), fc.nat(25), (problems, limit) => {
        const sink = new ProblemSink(limit);
        for (const entry of problems) sink.addProblem(entry);
        assert.equal(sink.count, problems.length);
        assert.deepEqual(sink.problems(), sortByPath(problems).slice(0, limit).map(({ path: at, kind, message }) => ({ path: at, kind, message })));
      }),
      { numRuns: 2_000 },
    );
  });

  it('words a message only for a problem it shows', () => {
    const sink = new ProblemSink(2);
    let worded = 0;
    const explain = (text: string) => () => {
      worded++;
      return text;
    };
    for (let i = 5; i >= 0; i--) sink.add(`spec.http[${i}].route[0]`, 'subset', explain(`missing ${i}`));
    assert.deepEqual(sink.problems().map((entry) => entry.message), ['missing 0', 'missing 1']);
    assert.equal(sink.count, 6);
    assert.equal(worded, 2);
  });
});

describe('ReferenceTable.firstInPathOrder', () => {
  const place = fc.constantFrom(Place.HttpRoute, Place.TcpRoute, Place.TlsRoute, Place.HttpMirror, Place.HttpMirrors);
  const reference = fc.record({ pair: fc.nat(3), place, rule: fc.nat(12), position: fc.nat(12) });

  it('gives the references whose paths sort first, and their count, from numbers alone', () => {
    fc.assert(
      fc.property(fc.array(reference, { maxLength: 80 }), fc.nat(30), fc.uniqueArray(fc.nat(3)), (references, limit, wanted) => {
        const table = new ReferenceTable();
        for (const { pair, place: where, rule, position } of references) table.add(`host-${pair}`, 'v1', where, rule, where === Place.HttpMirror ? 0 : position, true);
        const isWanted = (pair: number): boolean => wanted.includes(pair);
        const first = table.firstInPathOrder(isWanted, limit);
        const all = Array.from({ length: table.size }, (_, index) => index).filter((index) => isWanted(table.pair(index)));
        const expected = all.map((index) => ({ path: table.path(index), kind: 'subset' as const, message: String(index) }));
        assert.equal(first.count, all.length);
        assert.deepEqual(first.references.map((index) => table.path(index)), sortByPath(expected).slice(0, limit).map((entry) => entry.path));
      }),
      { numRuns: 2_000 },
    );
  });
});
