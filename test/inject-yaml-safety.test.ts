// `inject` output read by kubectl (issue 10): every string it prints must
// come back as the same string under YAML 1.1 (go-yaml v2, what kubectl
// decodes with, which also hands `0o17`, `0X1F`, `1_000` to Go's
// strconv.ParseInt) and YAML 1.2; and a recursive anchor is an input error
// (exit 2, naming file and document), not a stack overflow (exit 1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isMap, isScalar, isSeq, parse, parseDocument, Scalar, type Node } from 'yaml';
import { runCheck } from '../src/cli/check.js';
import { runInject } from '../src/cli/inject.js';
import { renderObject } from '../src/manifests/edit.js';
import { isCyclic } from '../src/manifests/parse.js';
import { isAmbiguousPlain } from '../src/manifests/quoting.js';
import { runCaptured, type CapturedRun } from './support/cli-run.js';

type Runner = typeof runInject;

const run = (runner: Runner, argv: string[], stdin: string): Promise<CapturedRun> => runCaptured(runner, argv, { stdin });

function deployment(version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-canary
  labels:
    app: reviews
    canary-webhook/enabled: "true"
  annotations:
    canary-webhook/version: ${JSON.stringify(version)}
spec:
  selector:
    matchLabels:
      app: reviews
  template:
    metadata:
      labels:
        app: reviews
    spec:
      containers:
      - name: reviews
        image: docker.io/istio/examples-bookinfo-reviews-v2
`;
}

/** Go's strconv.ParseInt/ParseFloat as go-yaml v2 calls them (underscores removed first), written independently of the implementation. */
function goReadsAsNumber(text: string): boolean {
  const t = text.replace(/_/g, '');
  if (t === '' || /\s/.test(t)) return false;
  const unsigned = t.replace(/^[-+]/, '');
  if (/^0[xX]/.test(unsigned)) return /^0[xX][0-9a-fA-F]+$/.test(unsigned);
  if (/^0[oO]/.test(unsigned)) return /^0[oO][0-7]+$/.test(unsigned);
  if (/^0[bB]/.test(unsigned)) return /^0[bB][01]+$/.test(unsigned);
  if (/^[0-9]+$/.test(unsigned)) return true;
  return /^(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(unsigned);
}

/** Every string scalar of the printed YAML: its value and whether it was printed plain. */
function stringScalars(yamlText: string): Array<{ value: string; plain: boolean }> {
  const found: Array<{ value: string; plain: boolean }> = [];
  for (const doc of yamlText.split(/^---$/m)) {
    const document = parseDocument(doc, { version: '1.1' });
    const walk = (node: unknown): void => {
      if (isScalar(node)) {
        if (typeof node.value === 'string') found.push({ value: node.value, plain: node.type === Scalar.PLAIN });
      } else if (isMap(node)) {
        for (const pair of node.items) {
          walk(pair.key);
          walk(pair.value);
        }
      } else if (isSeq(node)) node.items.forEach(walk);
    };
    walk(document.contents as Node);
  }
  return found;
}

const tricky = ['0o17', '0X1F', '0B101', '1e3', 'yes', 'on', 'off', 'no', 'y', 'n', '~', 'null', 'Null', '.inf', '-.Inf', '.nan', '1_000', '0x_1', '12:30', '017', '0755', '1.0', '+1', '2001-12-14', 'true', 'False', '0b1_0'];

/** Only valid label values can be versions; the rest are covered by the property below. */
const trickyVersions = tricky.filter((text) => /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(text));

describe('inject prints strings kubectl reads as strings', () => {
  it('the list of versions tried is the one from the issue', () => {
    assert.deepEqual(['0o17', '0X1F', '0B101', '1e3', 'yes', 'on', 'null', '1_000', '0x_1'].filter((v) => !trickyVersions.includes(v)), []);
  });

  for (const version of trickyVersions) {
    it(`version ${JSON.stringify(version)} comes out quoted wherever it is printed`, async () => {
      const result = await run(runInject, ['-f', '-'], deployment(version));
      assert.equal(result.code, 0, result.stderr);
      const printed = stringScalars(result.stdout).filter((scalar) => scalar.value === version);
      assert.ok(printed.length >= 3, `the version is printed (Deployment labels and the DestinationRule subset): ${result.stdout}`);
      for (const scalar of printed) assert.equal(scalar.plain, false, `${version} printed plain:\n${result.stdout}`);
      // And both YAML versions read every document back with the version as a string.
      for (const doc of result.stdout.split(/^---$/m)) {
        for (const yamlVersion of ['1.1', '1.2'] as const) {
          const value = parse(doc, { version: yamlVersion }) as { kind: string; metadata: { labels: Record<string, unknown> }; spec: { subsets?: Array<{ labels: Record<string, unknown> }> } };
          if (value.kind === 'Deployment') assert.equal(value.metadata.labels.version, version);
          if (value.kind === 'DestinationRule') assert.equal(value.spec.subsets?.[0]?.labels.version, version);
        }
      }
    });
  }

  it('property: every string scalar renderObject prints reads back as the same string under YAML 1.1 and 1.2, and none printed plain is a Go number', () => {
    const word = fc.oneof(
      fc.constantFrom(...tricky),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefxXoObBeE_.:+-~ yYnN'.split('')), maxLength: 8 }),
      fc.string({ maxLength: 12 }),
    ).filter((text) => text !== '__proto__');
    fc.assert(fc.property(fc.dictionary(word, word, { maxKeys: 5, noNullPrototype: true }), word, (labels, name) => {
      const text = renderObject({ metadata: { name, labels }, list: Object.values(labels) });
      for (const yamlVersion of ['1.1', '1.2'] as const) {
        const value = parse(text, { version: yamlVersion }) as { metadata: { name: unknown; labels: Record<string, unknown> }; list: unknown[] };
        assert.equal(value.metadata.name, name);
        assert.deepEqual(value.metadata.labels, labels);
        assert.deepEqual(value.list, Object.values(labels));
      }
      for (const scalar of stringScalars(text)) {
        if (scalar.plain) assert.equal(goReadsAsNumber(scalar.value), false, `${JSON.stringify(scalar.value)} printed plain is a number to kubectl`);
      }
    }), { numRuns: 300 });
  });

  it('ordinary strings stay plain', () => {
    for (const text of ['v2', 'reviews', 'v1.2.3', '1.2.3', 'docker.io/istio/reviews:1.0', 'canary-webhook']) assert.equal(isAmbiguousPlain(text), false, text);
  });
});

describe('recursive and expanding YAML', () => {
  const recursive = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v2
  labels:
    app: reviews
    canary-webhook/enabled: "true"
spec:
  selector:
    matchLabels:
      app: reviews
  template:
    metadata:
      labels:
        app: reviews
        version: v2
    spec: &p
      containers:
      - name: reviews
        image: reviews:v2
      loop: *p
`;

  for (const [name, runner] of [['inject', runInject], ['check', runCheck as Runner]] as const) {
    it(`${name}: a recursive anchor in document 2 is exit 2 naming the file and document, not a stack overflow`, async () => {
      const result = await run(runner, ['-f', '-'], `kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n---\n${recursive}`);
      assert.equal(result.code, 2, result.stderr + result.stdout);
      assert.match(result.stderr, /^<stdin>:\d+: document 2 cannot be read: an alias refers to an anchor that contains it/m);
      assert.doesNotMatch(result.stderr + result.stdout, /Maximum call stack/);
    });

    it(`${name}: alias expansion is bounded ("billion laughs" is an input error)`, async () => {
      const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
      for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
      const result = await run(runner, ['-f', '-'], `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n${levels.map((l) => `  ${l}`).join('\n')}\n`);
      assert.equal(result.code, 2, result.stderr + result.stdout);
      assert.match(result.stderr, /document 1 cannot be read: .*alias/i);
    });
  }

  it('isCyclic: shared aliases are not cycles, self-reference is', () => {
    const shared = { a: 1 };
    assert.equal(isCyclic({ x: shared, y: shared, z: [shared, [shared]] }), false);
    const loop: Record<string, unknown> = { a: [] };
    (loop.a as unknown[]).push({ back: loop });
    assert.equal(isCyclic(loop), true);
    // Deep but acyclic: no recursion to overflow.
    let deep: unknown = null;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    assert.equal(isCyclic(deep), false);
  });
});
