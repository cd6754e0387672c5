import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { discoverService, discoverVersion, imageTag, readDeployment } from '../src/rules/discovery.js';
import type { DeploymentView } from '../src/rules/discovery.js';
import { isValidLabelValue, toSubsetName } from '../src/rules/names.js';
import { defaultRuleSettings } from '../src/rules/types.js';
import type { JsonObject } from '../src/rules/types.js';
import { OPT_IN, createCtx, denial, mutateAndApply, taggedDeployment } from './support/deployments.js';

const settings = defaultRuleSettings;

/** A view with only what a case sets; everything else empty. */
function view(parts: Partial<DeploymentView>): DeploymentView {
  return { labels: {}, annotations: {}, templateLabels: {}, templateAnnotations: {}, selectorLabels: undefined, firstImage: undefined, ...parts };
}

const service = (parts: Partial<DeploymentView>, s = settings): string => {
  const found = discoverService(view(parts), s);
  return found.ok ? found.value.value : `deny: ${found.message}`;
};
const version = (parts: Partial<DeploymentView>, s = settings): string => {
  const found = discoverVersion(view(parts), s);
  return found.ok ? found.value.value : `deny: ${found.message}`;
};

describe('label values and subset names', () => {
  it('accepts label values Kubernetes accepts', () => {
    for (const ok of ['v1', '1.20.3', 'V2_beta', 'a', 'x'.repeat(63), 'rc-1.2_3']) assert.ok(isValidLabelValue(ok), ok);
    for (const bad of ['', '-v1', 'v1-', '_v', 'v.', 'v 2', 'v2/3', 'x'.repeat(64), 'vé']) assert.ok(!isValidLabelValue(bad), bad);
  });

  it('keeps a DNS-1123 label and converts the rest', () => {
    assert.equal(toSubsetName('v2'), 'v2');
    assert.equal(toSubsetName('1.2.3'), '1-2-3');
    assert.equal(toSubsetName('V2_beta'), 'v2-beta');
    assert.equal(toSubsetName('canary.v3'), 'canary-v3');
    assert.equal(toSubsetName('A'), 'a');
    assert.equal(toSubsetName('x'.repeat(62) + '.y'), 'x'.repeat(62), 'cut at 63, then trimmed');
  });

  it('turns every valid label value into a DNS-1123 label', () => {
    for (const v of ['V.1', '2024.01.01_build7', 'Z'.repeat(63), 'a_B.c-D']) {
      assert.match(toSubsetName(v), /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, v);
    }
  });
});

describe('image tags', () => {
  const cases: Array<[string, string | undefined]> = [
    ['registry.istio.io/release/examples-bookinfo-reviews-v2:1.20.3', '1.20.3'],
    ['reviews:v2', 'v2'],
    ['reviews', undefined],
    ['reviews:latest', undefined],
    ['reviews:', undefined],
    ['reviews@sha256:' + 'a'.repeat(64), undefined],
    ['reviews:1.2@sha256:' + 'a'.repeat(64), '1.2'],
    ['localhost:5000/reviews', undefined],
    ['localhost:5000/reviews:2.0', '2.0'],
    ['localhost:5000/team/reviews@sha256:' + 'b'.repeat(64), undefined],
    ['[::1]:5000/reviews:v3', 'v3'],
  ];
  for (const [image, tag] of cases) {
    it(`${image.slice(0, 50)} → ${String(tag)}`, () => assert.equal(imageTag(image), tag));
  }
});

describe('service name precedence', () => {
  const all = {
    annotations: { 'canary-webhook/service': 'from-annotation' },
    templateLabels: { app: 'from-template', 'app.kubernetes.io/name': 'from-k8s-name' },
    labels: { app: 'from-deployment' },
  };
  it('annotation first', () => assert.equal(service(all), 'from-annotation'));
  it('then template app', () => assert.equal(service({ ...all, annotations: {} }), 'from-template'));
  it('then Deployment app', () => {
    assert.equal(service({ ...all, annotations: {}, templateLabels: { 'app.kubernetes.io/name': 'from-k8s-name' } }), 'from-deployment');
  });
  it('then template app.kubernetes.io/name', () => {
    assert.equal(service({ templateLabels: { 'app.kubernetes.io/name': 'from-k8s-name' } }), 'from-k8s-name');
  });
  it('none → deny saying what to add', () => {
    assert.match(service({}), /needs a service name: add an "app" label .* annotation "canary-webhook\/service"/);
  });
  it('not a possible Service name → deny', () => {
    assert.match(service({ templateLabels: { app: 'Reviews_App' } }), /"Reviews_App" \(from pod template label "app"\) is not a valid Service name/);
  });
  it('the annotation key comes from the settings', () => {
    const custom = { ...settings, serviceAnnotation: 'example.com/svc' };
    assert.equal(service({ annotations: { 'example.com/svc': 'ratings' }, templateLabels: { app: 'x' } }, custom), 'ratings');
    assert.match(service({}, custom), /example\.com\/svc/);
  });
});

describe('version precedence', () => {
  const tagged = { firstImage: 'reviews:9.9.9' };
  it('template label version first', () => {
    assert.equal(version({ ...tagged, templateLabels: { version: 'v1', 'app.kubernetes.io/version': '1.0' } }), 'v1');
  });
  it('then Deployment label version', () => assert.equal(version({ ...tagged, labels: { version: 'v2' } }), 'v2'));
  it('then the version annotation', () => {
    assert.equal(version({ ...tagged, annotations: { 'canary-webhook/version': 'v3' }, templateLabels: { 'app.kubernetes.io/version': '1.0' } }), 'v3');
  });
  it('then template app.kubernetes.io/version, which never conflicts', () => {
    assert.equal(version({ ...tagged, templateLabels: { 'app.kubernetes.io/version': '1.0' } }), '1.0');
  });
  it('then the image tag', () => assert.equal(version(tagged), '9.9.9'));
  it('explicit sources that agree are fine', () => {
    assert.equal(version({ templateLabels: { version: 'v2' }, labels: { version: 'v2' }, annotations: { 'canary-webhook/version': 'v2' } }), 'v2');
  });
  const conflicts: Array<[string, Partial<DeploymentView>, string, string]> = [
    ['template label vs annotation', { templateLabels: { version: 'v1' }, annotations: { 'canary-webhook/version': 'v2' } }, 'pod template label "version" says "v1"', 'annotation "canary-webhook/version" says "v2"'],
    ['template label vs Deployment label', { templateLabels: { version: 'v1' }, labels: { version: 'v2' } }, 'pod template label "version" says "v1"', 'Deployment label "version" says "v2"'],
    ['Deployment label vs annotation', { labels: { version: 'v1' }, annotations: { 'canary-webhook/version': 'v2' } }, 'Deployment label "version" says "v1"', 'annotation "canary-webhook/version" says "v2"'],
  ];
  for (const [name, parts, first, second] of conflicts) {
    it(`${name} → deny naming both`, () => {
      const message = version(parts);
      assert.ok(message.startsWith('deny: ') && message.includes(first) && message.includes(second), message);
    });
  }
  it('no version → deny saying how to give one', () => {
    assert.match(version({ firstImage: 'reviews:latest' }), /needs a version: set pod template label "version" or annotation "canary-webhook\/version", or use an image tag/);
  });
  it('an invalid label value → deny', () => {
    assert.match(version({ templateLabels: { version: '-v2' } }), /version "-v2" \(from pod template label "version"\) is not a valid label value/);
    assert.match(version({ firstImage: `reviews:${'1'.repeat(64)}` }), /from the first container's image tag\) is not a valid label value/);
  });
  it('the annotation key comes from the settings', () => {
    assert.equal(version({ annotations: { 'example.com/v': 'v7' } }, { ...settings, versionAnnotation: 'example.com/v' }), 'v7');
  });
});

describe('discovery seen through the mutation', () => {
  it('a version that is not a DNS-1123 label keeps its value in labels, not in the subset name', () => {
    const deployment = taggedDeployment('reviews:V2_beta');
    const { outcome, result } = mutateAndApply(deployment, createCtx());
    assert.equal(outcome.subset.subsetName, 'v2-beta');
    assert.deepEqual(outcome.subset.labels, { version: 'V2_beta' });
    assert.equal((result.metadata as { labels: Record<string, string> }).labels.version, 'V2_beta');
  });

  for (const image of ['ratings@sha256:' + 'c'.repeat(64), 'ratings:latest', 'localhost:5000/ratings', 'ratings']) {
    it(`denies ${image.slice(0, 30)} with no other version source`, () => {
      assert.match(denial(taggedDeployment(image), createCtx()), /needs a version/);
    });
  }

  it('takes the tag behind a registry port', () => {
    assert.equal(mutateAndApply(taggedDeployment('localhost:5000/ratings:2.0.1'), createCtx()).outcome.subset.subsetName, '2-0-1');
  });

  it('readDeployment reports the exact field', () => {
    const bad: JsonObject = { metadata: { labels: { [OPT_IN]: 'true' } }, spec: { selector: {}, template: { spec: { containers: 'x' } } } };
    const read = readDeployment(bad);
    assert.ok(!read.ok);
    assert.equal(read.message, 'spec.template.spec.containers must be a list, not a string');
  });
});
