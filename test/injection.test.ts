// SPEC §2 "The mesh decides how injection is spelled": every namespace kind
// × every --inject-mode / --istio-revision, asserting the pod template the
// API server would store, the warning, and that a second pass changes nothing
// (mutateAndApply re-mutates its result and asserts an empty patch).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject, MutationContext, RuleSettings } from '../src/rules/types.js';
import { INJECT, at, createCtx, mutateAndApply, reviewsDeployment, updateCtx } from './support/deployments.js';

const REV = 'istio.io/rev';
const BASE_LABELS = { app: 'reviews', version: 'v2' };

type Mode = { name: string; settings: Partial<RuleSettings> };
const modes: Mode[] = [
  { name: '--inject-mode=label', settings: { injectMode: 'label' } },
  { name: '--inject-mode=annotation', settings: { injectMode: 'annotation' } },
  { name: '--inject-mode=both', settings: { injectMode: 'both' } },
  { name: '--istio-revision=1-24-0', settings: { istioRevision: '1-24-0' } },
  { name: '--istio-revision=1-24-0 --inject-mode=annotation', settings: { istioRevision: '1-24-0', injectMode: 'annotation' } },
];

interface Expected {
  labels: Record<string, string>;
  annotations: Record<string, string> | undefined;
  warnings: string[];
}

const AMBIENT = 'namespace "shop" is ambient: no sidecar added for version "v2"; subset routing in ambient needs a waypoint';
const DISABLED = 'namespace "shop" has istio-injection=disabled: version "v2" gets no sidecar (a pod label cannot override it)';

/** What the webhook adds by default in a namespace that does not inject by itself. */
function defaultSpelling(mode: Mode): Expected {
  const { injectMode = 'both', istioRevision } = mode.settings;
  if (istioRevision !== undefined) return { labels: { ...BASE_LABELS, [REV]: istioRevision }, annotations: undefined, warnings: [] };
  return {
    labels: injectMode === 'annotation' ? BASE_LABELS : { ...BASE_LABELS, [INJECT]: 'true' },
    annotations: injectMode === 'label' ? undefined : { [INJECT]: 'true' },
    warnings: [],
  };
}

const nothing = (warnings: string[] = []): Expected => ({ labels: BASE_LABELS, annotations: undefined, warnings });

const namespaceKinds: Array<{ name: string; labels: Record<string, string> | undefined; expect: (mode: Mode) => Expected }> = [
  { name: 'unknown (no Namespace object)', labels: undefined, expect: defaultSpelling },
  { name: 'unlabelled', labels: { 'kubernetes.io/metadata.name': 'shop' }, expect: defaultSpelling },
  {
    name: 'istio-injection: enabled',
    labels: { 'istio-injection': 'enabled' },
    // The namespace injects already; with a revision the pod label could only pick a second injector.
    expect: (mode) => (mode.settings.istioRevision !== undefined ? nothing() : defaultSpelling(mode)),
  },
  { name: 'istio-injection: disabled', labels: { 'istio-injection': 'disabled' }, expect: () => nothing([DISABLED]) },
  {
    name: 'istio.io/rev: canary',
    labels: { [REV]: 'canary' },
    expect: (mode) => (mode.settings.istioRevision !== undefined ? nothing() : defaultSpelling(mode)),
  },
  { name: 'istio.io/dataplane-mode: ambient', labels: { 'istio.io/dataplane-mode': 'ambient' }, expect: () => nothing([AMBIENT]) },
];

const shopCtx = (settings: Partial<RuleSettings>, labels: Record<string, string> | undefined): MutationContext => ({
  ...createCtx(settings),
  namespace: 'shop',
  ...(labels === undefined ? {} : { namespaceLabels: labels }),
});

describe('injection per namespace kind × flag', () => {
  for (const kind of namespaceKinds) {
    for (const mode of modes) {
      it(`${kind.name}, ${mode.name}`, () => {
        const expected = kind.expect(mode);
        const { result, outcome } = mutateAndApply(reviewsDeployment(), shopCtx(mode.settings, kind.labels));
        assert.deepEqual(at(result, 'spec', 'template', 'metadata', 'labels'), expected.labels);
        assert.deepEqual(at(result, 'spec', 'template', 'metadata', 'annotations'), expected.annotations);
        assert.deepEqual(outcome.warnings, expected.warnings);
        // The rest of the patch does not depend on the mesh.
        assert.equal(at(result, 'metadata', 'labels', 'version'), 'v2');
        assert.equal(outcome.subset.host, 'reviews.shop.svc.cluster.local');
      });
    }
  }
});

describe("Istio's opt-out values (pkg/kube/inject/inject.go injectRequired)", () => {
  const withTemplate = (labels: Record<string, string>, annotations?: Record<string, string>): JsonObject => {
    const deployment = reviewsDeployment();
    const meta = at(deployment, 'spec', 'template', 'metadata') as JsonObject;
    meta.labels = { ...BASE_LABELS, ...labels };
    if (annotations) meta.annotations = annotations;
    return deployment;
  };

  for (const value of ['false', 'no', 'off', 'n', '0', 'False', 'NO', 'disabled']) {
    for (const where of ['label', 'annotation'] as const) {
      for (const mode of [modes[2]!, modes[3]!]) {
        it(`${where} ${JSON.stringify(value)} is kept, nothing added, warned (${mode.name})`, () => {
          const deployment = where === 'label' ? withTemplate({ [INJECT]: value }) : withTemplate({}, { [INJECT]: value });
          const before = structuredClone(at(deployment, 'spec', 'template', 'metadata'));
          const { result, outcome } = mutateAndApply(deployment, shopCtx(mode.settings, undefined));
          assert.deepEqual(at(result, 'spec', 'template', 'metadata'), before);
          assert.deepEqual(outcome.warnings, [`sidecar.istio.io/inject is ${JSON.stringify(value)}: routing to version "v2" still works but its pods get no sidecar`]);
        });
      }
    }
  }

  for (const value of ['true', 'yes', 'on', 'y', 'TRUE', 'On']) {
    it(`an opt-in label ${JSON.stringify(value)} is left as written and the annotation added`, () => {
      const { result, outcome } = mutateAndApply(withTemplate({ [INJECT]: value }), shopCtx({}, undefined));
      assert.deepEqual(at(result, 'spec', 'template', 'metadata', 'labels'), { ...BASE_LABELS, [INJECT]: value });
      assert.deepEqual(at(result, 'spec', 'template', 'metadata', 'annotations'), { [INJECT]: 'true' });
      assert.deepEqual(outcome.warnings, []);
    });
  }

  it('the label decides when it opts in, as Istio prefers the label; the annotation "false" is not overwritten', () => {
    const { result, outcome } = mutateAndApply(withTemplate({ [INJECT]: 'true' }, { [INJECT]: 'false' }), shopCtx({}, undefined));
    assert.deepEqual(at(result, 'spec', 'template', 'metadata', 'annotations'), { [INJECT]: 'false' });
    assert.deepEqual(outcome.warnings, []);
  });

  it('an empty label is "no opinion": it is set, and an annotation "false" beside it still counts as the user\'s no', () => {
    const empty = mutateAndApply(withTemplate({ [INJECT]: '' }), shopCtx({ injectMode: 'label' }, undefined));
    assert.equal(at(empty.result, 'spec', 'template', 'metadata', 'labels', INJECT), 'true');
    const no = mutateAndApply(withTemplate({ [INJECT]: '' }, { [INJECT]: 'false' }), shopCtx({}, undefined));
    assert.equal(at(no.result, 'spec', 'template', 'metadata', 'labels', INJECT), '');
    assert.equal(no.outcome.warnings.length, 1);
  });
});

describe('revision and ambient details', () => {
  it('a revision label the user pinned on the template is kept', () => {
    const deployment = reviewsDeployment();
    (at(deployment, 'spec', 'template', 'metadata', 'labels') as JsonObject)[REV] = 'stable';
    const { result, patch } = mutateAndApply(deployment, shopCtx({ istioRevision: '1-24-0' }, undefined));
    assert.equal(at(result, 'spec', 'template', 'metadata', 'labels', REV), 'stable');
    assert.deepEqual(patch, []);
  });

  it('a pod template labelled ambient in an unlabelled namespace gets no sidecar either (cni/pkg/util/podutil.go)', () => {
    const deployment = reviewsDeployment();
    (at(deployment, 'spec', 'template', 'metadata', 'labels') as JsonObject)['istio.io/dataplane-mode'] = 'ambient';
    const { result, outcome } = mutateAndApply(deployment, shopCtx({}, undefined));
    assert.equal(at(result, 'spec', 'template', 'metadata', 'labels', INJECT), undefined);
    assert.deepEqual(outcome.warnings, ['the pod template is ambient: no sidecar added for version "v2"; subset routing in ambient needs a waypoint']);
  });

  it('a pod template labelled istio.io/dataplane-mode: none in an ambient namespace is out of ambient: the sidecar rules apply', () => {
    const deployment = reviewsDeployment();
    (at(deployment, 'spec', 'template', 'metadata', 'labels') as JsonObject)['istio.io/dataplane-mode'] = 'none';
    const { result, outcome } = mutateAndApply(deployment, shopCtx({}, { 'istio.io/dataplane-mode': 'ambient' }));
    assert.equal(at(result, 'spec', 'template', 'metadata', 'labels', INJECT), 'true');
    assert.deepEqual(outcome.warnings, []);
  });

  it('an UPDATE in a namespace that turned ambient leaves the earlier sidecar label and says it takes the pods out of ambient', () => {
    const created = mutateAndApply(reviewsDeployment(), shopCtx({}, undefined)).result;
    const ctx = { ...updateCtx(created), namespace: 'shop', namespaceLabels: { 'istio.io/dataplane-mode': 'ambient' } };
    const { result, outcome, patch } = mutateAndApply(structuredClone(created), ctx);
    assert.deepEqual(patch, []);
    assert.equal(at(result, 'spec', 'template', 'metadata', 'labels', INJECT), 'true');
    assert.deepEqual(outcome.warnings, ['namespace "shop" is ambient but sidecar.istio.io/inject asks for a sidecar, which takes version "v2" out of ambient']);
  });

  it('warnings stay under 120 characters with 63-character names', () => {
    const long = 'n'.repeat(63);
    for (const labels of [{ 'istio-injection': 'disabled' }, { 'istio.io/dataplane-mode': 'ambient' }] as Array<Record<string, string>>) {
      const { outcome } = mutateAndApply(reviewsDeployment(), { ...createCtx(), namespace: long, namespaceLabels: labels });
      assert.equal(outcome.warnings.length, 1);
      assert.ok(outcome.warnings[0]!.length < 120, outcome.warnings[0]);
    }
  });
});
