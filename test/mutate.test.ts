import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mutateDeployment } from '../src/rules/mutate.js';
import { diffPatch } from '../src/rules/patch.js';
import type { JsonObject } from '../src/rules/types.js';
import {
  INJECT,
  OPT_IN,
  at,
  createCtx,
  denial,
  mutateAndApply,
  reviewsDeployment,
  taggedDeployment,
  updateCtx,
} from './support/deployments.js';

const templateLabels = (d: unknown): unknown => at(d, 'spec', 'template', 'metadata', 'labels');
const templateAnnotations = (d: unknown): unknown => at(d, 'spec', 'template', 'metadata', 'annotations');

describe('opt-in', () => {
  const cases: Array<[string, unknown]> = [
    ['label "false"', { ...reviewsDeployment(), metadata: { labels: { app: 'reviews', [OPT_IN]: 'false' } } }],
    ['label missing', { ...reviewsDeployment(), metadata: { labels: { app: 'reviews' } } }],
    ['no labels map', { ...reviewsDeployment(), metadata: { name: 'reviews-v2' } }],
    ['boolean true, not the string', { ...reviewsDeployment(), metadata: { labels: { [OPT_IN]: true } } }],
    ['"True" capitalised', { ...reviewsDeployment(), metadata: { labels: { [OPT_IN]: 'True' } } }],
    ['not an object at all', 'reviews-v2'],
    ['null', null],
  ];
  for (const [name, deployment] of cases) {
    it(`skips a Deployment whose opt-in is ${name}`, () => {
      const outcome = mutateDeployment(deployment, createCtx());
      assert.equal(outcome.kind, 'skip');
      assert.match((outcome as { reason: string }).reason, /canary-webhook\/enabled/);
    });
  }

  it('reads the opt-in label key from the settings', () => {
    const deployment = reviewsDeployment();
    assert.equal(mutateDeployment(deployment, createCtx({ optInLabel: 'example.com/canary' })).kind, 'skip');
    (deployment.metadata as { labels: Record<string, string> }).labels['example.com/canary'] = 'true';
    assert.equal(mutateDeployment(deployment, createCtx({ optInLabel: 'example.com/canary' })).kind, 'mutate');
  });
});

describe('CREATE of Bookinfo reviews-v2', () => {
  const { outcome, patch, result } = mutateAndApply(reviewsDeployment(), createCtx());

  it('turns on sidecar injection by label and annotation, escaping "/" as ~1', () => {
    assert.deepEqual(templateLabels(result), { app: 'reviews', version: 'v2', [INJECT]: 'true' });
    assert.deepEqual(templateAnnotations(result), { [INJECT]: 'true' });
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/template/metadata/labels/sidecar.istio.io~1inject', value: 'true' },
      { op: 'add', path: '/spec/template/metadata/annotations', value: { [INJECT]: 'true' } },
    ]);
  });

  it('asks for subset v2 of the FQDN host, in the request namespace', () => {
    assert.deepEqual(outcome.subset, {
      namespace: 'default',
      service: 'reviews',
      host: 'reviews.default.svc.cluster.local',
      subsetName: 'v2',
      labels: { version: 'v2' },
    });
    assert.deepEqual(outcome.warnings, []);
  });
});

describe('CREATE patch', () => {
  it('adds version to the selector, the Deployment and the template', () => {
    const deployment = taggedDeployment('docker.io/istio/examples-bookinfo-ratings-v1:1.20.3');
    const { result, outcome } = mutateAndApply(deployment, createCtx());
    assert.deepEqual(at(result, 'spec', 'selector', 'matchLabels'), { app: 'ratings', version: '1.20.3' });
    assert.equal(at(result, 'metadata', 'labels', 'version'), '1.20.3');
    assert.equal(at(templateLabels(result), 'version'), '1.20.3');
    assert.equal(outcome.subset.subsetName, '1-20-3');
    assert.deepEqual(outcome.subset.labels, { version: '1.20.3' });
  });

  it('creates the selector matchLabels map when the selector only has matchExpressions', () => {
    const deployment = reviewsDeployment();
    (deployment.spec as JsonObject).selector = { matchExpressions: [{ key: 'app', operator: 'In', values: ['reviews'] }] };
    const { result, patch } = mutateAndApply(deployment, createCtx());
    assert.deepEqual(at(result, 'spec', 'selector', 'matchLabels'), { version: 'v2' });
    assert.ok(patch.some((op) => op.op === 'add' && op.path === '/spec/selector/matchLabels'));
  });

  it('works on a template with no labels map, creating it whole', () => {
    const deployment = reviewsDeployment();
    (at(deployment, 'spec', 'template', 'metadata') as JsonObject).labels = undefined;
    delete (at(deployment, 'spec', 'template', 'metadata') as JsonObject).labels;
    const { result, patch } = mutateAndApply(deployment, createCtx());
    assert.deepEqual(templateLabels(result), { version: 'v2', app: 'reviews', [INJECT]: 'true' });
    assert.ok(patch.some((op) => op.op === 'add' && op.path === '/spec/template/metadata/labels'));
  });

  it('works on a template with no metadata at all, and on labels: null', () => {
    const noMeta = reviewsDeployment();
    delete (at(noMeta, 'spec', 'template') as JsonObject).metadata;
    const { patch } = mutateAndApply(noMeta, createCtx());
    const added = patch.find((op) => op.path === '/spec/template/metadata');
    assert.deepEqual(added, {
      op: 'add',
      path: '/spec/template/metadata',
      value: { labels: { version: 'v2', app: 'reviews', [INJECT]: 'true' }, annotations: { [INJECT]: 'true' } },
    });
    const nullLabels = reviewsDeployment();
    (at(nullLabels, 'spec', 'template', 'metadata') as JsonObject).labels = null;
    assert.equal(at(templateLabels(mutateAndApply(nullLabels, createCtx()).result), 'version'), 'v2');
  });

  it('sets the template app label when absent, and only then', () => {
    const absent = reviewsDeployment();
    delete (templateLabels(absent) as JsonObject).app;
    assert.equal(at(templateLabels(mutateAndApply(absent, createCtx()).result), 'app'), 'reviews');

    const other = reviewsDeployment();
    (other.metadata as JsonObject).annotations = { 'canary-webhook/service': 'reviews-canary' };
    const { result, outcome } = mutateAndApply(other, createCtx());
    assert.equal(at(templateLabels(result), 'app'), 'reviews');
    assert.equal(outcome.subset.host, 'reviews-canary.default.svc.cluster.local');
  });

  it('sets the Deployment version label when only the template has it', () => {
    const deployment = reviewsDeployment();
    delete (at(deployment, 'metadata', 'labels') as JsonObject).version;
    const { result, patch } = mutateAndApply(deployment, createCtx());
    assert.equal(at(result, 'metadata', 'labels', 'version'), 'v2');
    assert.ok(patch.some((op) => op.path === '/metadata/labels/version'));
  });

  it('uses metadata.namespace when the request has none, and the configured cluster domain', () => {
    const deployment = reviewsDeployment();
    (deployment.metadata as JsonObject).namespace = 'bookinfo';
    const ctx = { ...createCtx({ clusterDomain: 'corp.example' }), namespace: '' };
    assert.equal(mutateAndApply(deployment, ctx).outcome.subset.host, 'reviews.bookinfo.svc.corp.example');
  });

  it('denies a selector that pins another version than the template gets', () => {
    const deployment = reviewsDeployment();
    (at(deployment, 'spec', 'selector', 'matchLabels') as JsonObject).version = 'v1';
    assert.match(denial(deployment, createCtx()), /spec\.selector\.matchLabels\.version is "v1" but .* says "v2"/);
  });
});

describe('sidecar injection', () => {
  it('injectMode label sets only the label', () => {
    const { result } = mutateAndApply(reviewsDeployment(), createCtx({ injectMode: 'label' }));
    assert.equal(at(templateLabels(result), INJECT), 'true');
    assert.equal(templateAnnotations(result), undefined);
  });

  it('injectMode annotation sets only the annotation', () => {
    const { result } = mutateAndApply(reviewsDeployment(), createCtx({ injectMode: 'annotation' }));
    assert.equal(at(templateLabels(result), INJECT), undefined);
    assert.deepEqual(templateAnnotations(result), { [INJECT]: 'true' });
  });

  it('injectMode both (the default) sets both, leaving an opt-in Istio already reads ("Yes") as written', () => {
    const deployment = reviewsDeployment();
    (at(deployment, 'spec', 'template', 'metadata') as JsonObject).annotations = { [INJECT]: 'Yes', keep: 'me' };
    const { result } = mutateAndApply(deployment, createCtx({ injectMode: 'both' }));
    assert.equal(at(templateLabels(result), INJECT), 'true');
    assert.deepEqual(templateAnnotations(result), { [INJECT]: 'Yes', keep: 'me' });
  });

  for (const where of ['labels', 'annotations'] as const) {
    it(`keeps an explicit "false" ${where.slice(0, -1)} and warns`, () => {
      const deployment = reviewsDeployment();
      const meta = at(deployment, 'spec', 'template', 'metadata') as JsonObject;
      meta[where] = { ...(meta[where] as JsonObject | undefined), [INJECT]: 'false' };
      const { result, outcome, patch } = mutateAndApply(deployment, createCtx());
      assert.equal(at(result, 'spec', 'template', 'metadata', where, INJECT), 'false');
      const other = where === 'labels' ? templateAnnotations(result) : at(templateLabels(result), INJECT);
      assert.equal(other, undefined, 'no conflicting "true" next to the user\'s "false"');
      assert.deepEqual(patch, []);
      assert.equal(outcome.warnings.length, 1);
      assert.match(outcome.warnings[0] ?? '', /"false".*routing to version "v2" still works.*no sidecar/);
    });
  }
});

describe('malformed input is denied cleanly, naming the field', () => {
  const bad = (edit: (d: JsonObject) => void): JsonObject => {
    const deployment = reviewsDeployment();
    edit(deployment);
    return deployment;
  };
  const cases: Array<[string, JsonObject, RegExp]> = [
    ['a label that is not a string', bad((d) => { (d.metadata as JsonObject).labels = { [OPT_IN]: 'true', version: 2 }; }), /metadata\.labels\.version must be a string, not a number/],
    ['annotations as a list', bad((d) => { (d.metadata as JsonObject).annotations = ['x']; }), /metadata\.annotations must be a map of strings/],
    ['spec missing', bad((d) => { delete d.spec; }), /spec is missing/],
    ['spec a list', bad((d) => { d.spec = []; }), /spec must be an object, not a list/],
    ['selector missing', bad((d) => { delete (d.spec as JsonObject).selector; }), /spec\.selector is missing/],
    ['matchLabels a string', bad((d) => { (d.spec as JsonObject).selector = { matchLabels: 'app=reviews' }; }), /spec\.selector\.matchLabels must be a map of strings/],
    ['template not an object', bad((d) => { (d.spec as JsonObject).template = 'reviews'; }), /spec\.template must be an object, not a string/],
    ['template missing', bad((d) => { delete (d.spec as JsonObject).template; }), /spec\.template is missing/],
    ['template metadata a number', bad((d) => { (at(d, 'spec', 'template') as JsonObject).metadata = 3; }), /spec\.template\.metadata must be an object/],
    ['template labels with a boolean', bad((d) => { (at(d, 'spec', 'template', 'metadata') as JsonObject).labels = { app: 'reviews', [INJECT]: true }; }), /spec\.template\.metadata\.labels\["sidecar\.istio\.io\/inject"\] must be a string, not a boolean/],
    ['containers not a list', bad((d) => { (at(d, 'spec', 'template', 'spec') as JsonObject).containers = { name: 'reviews' }; }), /spec\.template\.spec\.containers must be a list/],
    ['first container null', bad((d) => { (at(d, 'spec', 'template', 'spec') as JsonObject).containers = [null]; }), /spec\.template\.spec\.containers\[0\] is missing/],
    ['image a number', bad((d) => { (at(d, 'spec', 'template', 'spec') as JsonObject).containers = [{ image: 42 }]; }), /containers\[0\]\.image must be a string/],
    ['pod spec a string', bad((d) => { (at(d, 'spec', 'template') as JsonObject).spec = 'x'; }), /spec\.template\.spec must be an object/],
  ];
  for (const [name, deployment, message] of cases) {
    it(name, () => {
      assert.match(denial(deployment, createCtx()), message);
      assert.match(denial(deployment, updateCtx(reviewsDeployment())), message);
    });
  }

  it('denies when no namespace is known at all', () => {
    assert.match(denial(reviewsDeployment(), { ...createCtx(), namespace: '' }), /no namespace/);
  });

  it('a malformed oldObject does not throw', () => {
    for (const old of [null, 'x', { spec: [] }, { spec: { selector: { matchLabels: { version: 7 } } } }]) {
      assert.equal(mutateDeployment(reviewsDeployment(), updateCtx(old)).kind, 'mutate');
    }
  });
});

describe('the patch is minimal', () => {
  it('is empty for a Deployment the webhook already mutated', () => {
    const { result } = mutateAndApply(reviewsDeployment(), createCtx());
    const again = mutateDeployment(result, createCtx());
    assert.equal(again.kind, 'mutate');
    assert.deepEqual(diffPatch(result, (again as { mutated: JsonObject }).mutated), []);
  });
});

describe('UPDATE: the stored selector rules', () => {
  const storedReviews = (): JsonObject => mutateAndApply(reviewsDeployment(), createCtx()).result;

  it('a re-apply without the webhook\'s version (kubectl replace, GitOps) gets selector and labels back', () => {
    // The user's manifest names the version by annotation only; the webhook added the labels and the selector key.
    const manifest = reviewsDeployment();
    delete (at(manifest, 'spec', 'selector', 'matchLabels') as JsonObject).version;
    delete (templateLabels(manifest) as JsonObject).version;
    delete (at(manifest, 'metadata', 'labels') as JsonObject).version;
    (manifest.metadata as JsonObject).annotations = { 'canary-webhook/version': 'v2' };
    const stored = mutateAndApply(manifest, createCtx()).result;
    assert.equal(at(stored, 'spec', 'selector', 'matchLabels', 'version'), 'v2');

    const { result, patch, outcome } = mutateAndApply(manifest, updateCtx(stored));
    assert.deepEqual(at(result, 'spec', 'selector', 'matchLabels'), { app: 'reviews', version: 'v2' });
    assert.equal(at(templateLabels(result), 'version'), 'v2');
    assert.equal(at(result, 'metadata', 'labels', 'version'), 'v2');
    assert.ok(patch.some((op) => op.op === 'add' && op.path === '/spec/selector/matchLabels/version'));
    assert.ok(patch.some((op) => op.op === 'add' && op.path === '/spec/template/metadata/labels/version'));
    assert.equal(outcome.subset.subsetName, 'v2');
    assert.deepEqual(outcome.warnings, []);
  });

  it('an image tag that never was the version earns no warning (reviews-v2 runs tag 1.20.3)', () => {
    const { outcome, patch } = mutateAndApply(reviewsDeployment(), updateCtx(storedReviews()));
    assert.deepEqual(outcome.warnings, []);
    assert.equal(patch.length, 2, 'only the sidecar label and annotation');
  });

  it('the pinned version wins over an image tag, which earns a warning when the version tracked it', () => {
    const stored = mutateAndApply(taggedDeployment('ratings:1.20.3'), createCtx()).result;
    const setImage = structuredClone(stored);
    (at(setImage, 'spec', 'template', 'spec', 'containers', '0') as JsonObject).image = 'ratings:1.20.4';
    const { outcome, patch } = mutateAndApply(setImage, updateCtx(stored));
    assert.deepEqual(patch, []);
    assert.equal(outcome.subset.labels.version, '1.20.3');
    assert.deepEqual(outcome.warnings, ['the first container\'s image tag suggests version "1.20.4"; selector pins "1.20.3"']);

    const replaced = taggedDeployment('ratings:1.20.4');
    const again = mutateAndApply(replaced, updateCtx(stored));
    assert.equal(at(again.result, 'spec', 'selector', 'matchLabels', 'version'), '1.20.3');
    assert.equal(again.outcome.warnings.length, 1);
  });

  const explicit: Array<[string, (d: JsonObject) => void]> = [
    ['pod template label "version"', (d) => { (templateLabels(d) as JsonObject).version = 'v3'; }],
    ['Deployment label "version"', (d) => { (at(d, 'metadata', 'labels') as JsonObject).version = 'v3'; }],
    ['annotation "canary-webhook/version"', (d) => { (d.metadata as JsonObject).annotations = { 'canary-webhook/version': 'v3' }; }],
  ];
  for (const [where, edit] of explicit) {
    it(`denies a ${where} naming another version than the pinned one`, () => {
      const incoming = reviewsDeployment();
      edit(incoming);
      const message = denial(incoming, updateCtx(storedReviews()));
      assert.ok(message.includes(`${where} says "v3"`), message);
      assert.match(message, /pinned to version "v2".*create a new Deployment for a new version/);
    });
  }

  it('keeps warnings under 120 characters even with 63-character values', () => {
    const long = (c: string): string => c.repeat(63);
    const stored = taggedDeployment('ratings:x');
    (templateLabels(stored) as JsonObject)['app.kubernetes.io/version'] = long('a');
    (templateLabels(stored) as JsonObject)[INJECT] = 'false';
    const storedResult = mutateAndApply(stored, createCtx()).result;
    const incoming = structuredClone(storedResult);
    (templateLabels(incoming) as JsonObject)['app.kubernetes.io/version'] = long('b');
    const { outcome } = mutateAndApply(incoming, updateCtx(storedResult));
    assert.equal(outcome.warnings.length, 2);
    for (const warning of outcome.warnings) assert.ok(warning.length < 120, `${warning.length}: ${warning}`);
  });

  it('denies an incoming selector that changes the pinned version', () => {
    const message = denial(reviewsDeployment('v3'), updateCtx(storedReviews()));
    assert.match(message, /immutable and pins version "v2", not "v3"; create a new Deployment/);
  });

  it('a stored selector without version is left without it', () => {
    const legacy = reviewsDeployment();
    delete (at(legacy, 'spec', 'selector', 'matchLabels') as JsonObject).version;
    const incoming = structuredClone(legacy);
    (templateLabels(incoming) as JsonObject).version = 'v3';
    (at(incoming, 'metadata', 'labels') as JsonObject).version = 'v3';
    const { result, outcome } = mutateAndApply(incoming, updateCtx(legacy));
    assert.deepEqual(at(result, 'spec', 'selector', 'matchLabels'), { app: 'reviews' });
    assert.equal(outcome.subset.subsetName, 'v3');
  });

  it('an UPDATE without oldObject leaves the selector alone', () => {
    const incoming = reviewsDeployment();
    delete (at(incoming, 'spec', 'selector', 'matchLabels') as JsonObject).version;
    const { result } = mutateAndApply(incoming, { ...createCtx(), operation: 'UPDATE' });
    assert.deepEqual(at(result, 'spec', 'selector', 'matchLabels'), { app: 'reviews' });
  });

  it('an UPDATE that turns the opt-in off is skipped', () => {
    const incoming = reviewsDeployment();
    (at(incoming, 'metadata', 'labels') as JsonObject)[OPT_IN] = 'false';
    assert.equal(mutateDeployment(incoming, updateCtx(storedReviews())).kind, 'skip');
  });
});
