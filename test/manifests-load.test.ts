// Reading manifests: files, folders, stdin, multi-document YAML, List kinds,
// and broken input that is reported without hiding the rest.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { loadManifests, STDIN_NAME } from '../src/manifests/load.js';
import { lineOf, parsePath, positionOf, toObjects } from '../src/manifests/objects.js';
import { parseManifestText } from '../src/manifests/parse.js';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cw-load-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const noStdin = { stdin: Readable.from([]) };
const object = (kind: string, name: string): string => `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n`;

describe('parseManifestText', () => {
  it('splits documents, numbering them from 1 and keeping their text without the --- marker', () => {
    const text = `# header\n${object('A', 'a')}---\n# about b\n${object('B', 'b')}--- # c follows\n${object('C', 'c')}`;
    const { documents, errors } = parseManifestText('f.yaml', text);
    assert.deepEqual(errors, []);
    assert.deepEqual(documents.map((d) => [d.index, d.line]), [[1, 2], [2, 8], [3, 13]]);
    assert.equal(documents[0]?.text, `# header\n${object('A', 'a')}`);
    assert.equal(documents[1]?.text, `# about b\n${object('B', 'b')}`);
    assert.equal(documents[2]?.text, `# c follows\n${object('C', 'c')}`);
    assert.equal(documents.map((d) => d.text).join('---\n'), text.replace('--- # c', '---\n# c'));
  });

  it('counts empty documents in the numbering and gives them a null value', () => {
    const { documents } = parseManifestText('f.yaml', `---\n---\n${object('A', 'a')}---\n`);
    assert.deepEqual(documents.map((d) => [d.index, d.value === null]), [[1, true], [2, false], [3, true]]);
  });

  it('names the file and line of a broken document and still returns the others', () => {
    const text = `${object('A', 'a')}---\napiVersion: v1\nkind: [B\nfoo: : bar\n---\n${object('C', 'c')}`;
    const { documents, errors } = parseManifestText('broken.yaml', text);
    assert.deepEqual(documents.map((d) => d.index), [1, 3]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.file, 'broken.yaml');
    assert.equal(errors[0]?.doc, 2);
    assert.equal(errors[0]?.line, 8);
    assert.match(errors[0]?.message ?? '', /^document 2 is not valid YAML: /);
    assert.doesNotMatch(errors[0]?.message ?? '', /\n/);
  });

  it('reports duplicate keys, as kubectl does', () => {
    const { errors } = parseManifestText('dup.yaml', 'a: 1\na: 2\n');
    assert.equal(errors[0]?.line, 2);
    assert.match(errors[0]?.message ?? '', /unique/);
  });

  it('reads YAML 1.1 scalars as kubectl does and tolerates a BOM and a missing final newline', () => {
    const { documents } = parseManifestText('f.yaml', '\uFEFFa: yes\nb: "yes"\nc: 0755\nd: 1.10');
    assert.deepEqual(documents[0]?.value, { a: true, b: 'yes', c: 493, d: 1.1 });
    assert.ok(documents[0]?.text.endsWith('\n'));
  });

  it('reads JSON', () => {
    const { documents } = parseManifestText('f.json', '{"apiVersion": "v1", "kind": "A", "metadata": {"name": "a"}}');
    assert.deepEqual(documents[0]?.value, { apiVersion: 'v1', kind: 'A', metadata: { name: 'a' } });
  });

  it('gives nothing for an empty or comment-only file', () => {
    assert.deepEqual(parseManifestText('e.yaml', '').documents, []);
    assert.deepEqual(parseManifestText('e.yaml', '# nothing\n').documents.filter((d) => d.value !== null), []);
  });
});

describe('toObjects', () => {
  it('flattens List and *List kinds, recording where each item sits', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n  metadata: {name: a, namespace: ns}\n' +
      '- apiVersion: apps/v1\n  kind: DeploymentList\n  items:\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: d}\n';
    const { documents } = parseManifestText('list.yaml', text);
    const { objects, errors } = toObjects(documents);
    assert.deepEqual(errors, []);
    assert.deepEqual(objects.map((o) => [o.kind, o.name, o.namespace, o.at]), [
      ['A', 'a', 'ns', ['items', 0]],
      ['Deployment', 'd', undefined, ['items', 1, 'items', 0]],
    ]);
    assert.equal(lineOf(documents[0]!, objects[1]!.at), 10);
  });

  it('skips documents that are not Kubernetes objects, with their line, and reports broken ones', () => {
    const text = `just a string\n---\n${object('A', 'a')}---\nfoo: bar\n---\n- 1\n---\nkind: Service\nmetadata: {name: x}\n`;
    const { documents } = parseManifestText('junk.yaml', text);
    const { objects, errors, skipped } = toObjects(documents);
    assert.deepEqual(objects.map((o) => o.name), ['a']);
    assert.deepEqual(skipped.map((e) => [e.doc, e.line]), [[1, 1], [3, 8], [4, 10]]);
    assert.match(skipped[1]?.message ?? '', /document 3 is not a Kubernetes object \(no apiVersion and kind\); skipped/);
    // A kind without apiVersion is a Kubernetes object with a mistake, not someone else's file.
    assert.deepEqual(errors.map((e) => [e.doc, e.line]), [[5, 12]]);
    assert.match(errors[0]?.message ?? '', /document 5 has no apiVersion or kind/);
  });

  it('finds the line of a rule path inside a document', () => {
    const { documents } = parseManifestText('vs.yaml', 'kind: VirtualService\nspec:\n  http:\n  - route:\n    - destination: {host: a}\n    - destination: {host: b}\n');
    assert.equal(lineOf(documents[0]!, parsePath('spec.http[0].route[1]')), 6);
    // route[7] does not exist: the deepest node that does is the `route:` key.
    assert.equal(lineOf(documents[0]!, parsePath('spec.http[0].route[7].weight')), 4);
  });

  it('finds line and column of keys and list items, in YAML and in JSON', () => {
    const yaml = parseManifestText('vs.yaml', 'kind: VirtualService\nspec:\n  http:\n  - route:\n    - destination: {host: a}\n      weight: 5\n');
    assert.deepEqual(positionOf(yaml.documents[0]!, parsePath('spec.http[0].route')), { line: 4, column: 5 });
    assert.deepEqual(positionOf(yaml.documents[0]!, parsePath('spec.http[0].route[0]')), { line: 5, column: 7 });
    assert.deepEqual(positionOf(yaml.documents[0]!, parsePath('spec.http[0].route[0].weight')), { line: 6, column: 7 });
    const json = parseManifestText('vs.json', '{\n  "kind": "VirtualService",\n  "spec": {\n    "http": [\n      {"route": [{"weight": 5}]}\n    ]\n  }\n}\n');
    assert.deepEqual(positionOf(json.documents[0]!, parsePath('spec.http[0].route')), { line: 5, column: 8 });
    assert.deepEqual(positionOf(json.documents[0]!, parsePath('spec.http[0].route[0].weight')), { line: 5, column: 19 });
  });
});

describe('loadManifests', () => {
  it('skips node_modules and hidden folders when walking, but reads a folder named on the command line', async () => {
    const root = tree({
      'k8s/app.yaml': object('A', 'app'),
      'node_modules/pkg/chart.yaml': object('A', 'dependency'),
      '.git/config.yaml': object('A', 'git'),
      '.github/workflows/ci.yml': 'on: push\njobs: {}\n',
      'k8s/.cache/stale.yaml': object('A', 'stale'),
    });
    const walked = await loadManifests(['.'], { ...noStdin, cwd: root });
    assert.deepEqual(walked.documents.map((d) => d.file), ['k8s/app.yaml']);
    const named = await loadManifests(['.github'], { ...noStdin, cwd: root });
    assert.deepEqual(named.documents.map((d) => d.file), ['.github/workflows/ci.yml']);
  });

  it('walks folders recursively in sorted order, picking .yaml, .yml and .json', async () => {
    const root = tree({
      'b.yaml': object('A', 'b'),
      'a/z.yml': object('A', 'a-z'),
      'a/y/x.json': JSON.stringify({ apiVersion: 'v1', kind: 'A', metadata: { name: 'a-y-x' } }),
      'a/notes.txt': 'not a manifest',
      'c.YAML': object('A', 'c'),
    });
    const input = await loadManifests(['.'], { ...noStdin, cwd: root });
    assert.deepEqual(input.errors, []);
    assert.deepEqual(input.documents.map((d) => d.file), ['a/y/x.json', 'a/z.yml', 'b.yaml', 'c.YAML']);
    assert.equal(input.files, 4);
  });

  it('shows paths as the user wrote them', async () => {
    const root = tree({ 'k8s/app.yaml': object('A', 'a') });
    const input = await loadManifests(['k8s/', join(root, 'k8s/app.yaml')], { ...noStdin, cwd: root });
    // The same file twice counts once: a folder and a file in it must not define objects twice.
    assert.deepEqual(input.documents.map((d) => d.file), ['k8s/app.yaml']);
  });

  it('reads - from stdin', async () => {
    const input = await loadManifests(['-'], { stdin: Readable.from([Buffer.from(object('A', 'a')), `---\n${object('B', 'b')}`]), cwd: '/' });
    assert.deepEqual(input.documents.map((d) => [d.file, d.index]), [[STDIN_NAME, 1], [STDIN_NAME, 2]]);
  });

  it('reports a missing file and an empty folder, and still reads the rest', async () => {
    const root = tree({ 'ok.yaml': object('A', 'a'), 'empty/readme.md': '# no manifests' });
    const input = await loadManifests(['missing.yaml', 'empty', 'ok.yaml'], { ...noStdin, cwd: root });
    assert.deepEqual(input.errors.map((e) => [e.file, e.message]), [
      ['missing.yaml', 'cannot read: no such file or folder'],
      ['empty', 'folder holds no .yaml, .yml or .json files'],
    ]);
    assert.deepEqual(input.documents.map((d) => d.file), ['ok.yaml']);
  });

  it('keeps reading other files after a broken document', async () => {
    const root = tree({ 'a.yaml': `${object('A', 'a')}---\nkind: [\n`, 'b.yaml': object('B', 'b') });
    const input = await loadManifests(['.'], { ...noStdin, cwd: root });
    assert.deepEqual(input.errors.map((e) => [e.file, e.doc, e.line]), [['a.yaml', 2, 7]]);
    assert.deepEqual(input.documents.map((d) => `${d.file}:${d.index}`), ['a.yaml:1', 'b.yaml:1']);
  });
});
