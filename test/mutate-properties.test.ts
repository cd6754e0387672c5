import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { mutateDeployment } from '../src/rules/mutate.js';
import { diffPatch } from '../src/rules/patch.js';
import type { JsonObject, MutationContext, RuleSettings } from '../src/rules/types.js';
import { INJECT, OPT_IN, at, createCtx, updateCtx } from './support/deployments.js';

const RUNS = 600;

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/);
const labelValue = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,14}[A-Za-z0-9])?$/);
const RESERVED = /^(app|version|app\.kubernetes\.io\/|sidecar\.istio\.io\/|canary-webhook\/)/;
const extraKey = fc.stringMatching(/^([a-z0-9.]{1,8}\/)?[a-z][a-z0-9-]{0,8}$/).filter((k) => !RESERVED.test(k));
const extras = fc.dictionary(extraKey, labelValue, { maxKeys: 3 });
const injectValue = fc.option(fc.constantFrom('true', 'false', 'False', 'enabled', '', 'no', 'yes', 'ON'), { nil: undefined });

/** Where each fact is written; lower-precedence sources get unrelated values. */
const plan = fc.record({
  service: dnsLabel,
  serviceAt: fc.constantFrom('annotation', 'template', 'deployment', 'k8sName'),
  decoyService: dnsLabel,
  version: labelValue.filter((v) => v !== 'latest'),
  explicitAt: fc.subarray(['template', 'deployment', 'annotation'] as const),
  fallbackAt: fc.constantFrom('k8sVersion', 'image'),
  decoyVersion: labelValue.filter((v) => v !== 'latest'),
  registry: fc.constantFrom('', 'docker.io/istio/', 'localhost:5000/', 'registry.istio.io/release/'),
  digest: fc.boolean(),
  decoyK8sVersion: fc.boolean(),
  labels: extras,
  annotations: fc.option(extras, { nil: undefined }),
  templateLabels: extras,
  templateAnnotations: extras,
  emptyMapAs: fc.constantFrom('absent', 'null', 'empty', 'noMetadata'),
  injectLabel: injectValue,
  injectAnnotation: injectValue,
  selector: fc.constantFrom('app', 'appAndVersion', 'expressions'),
  replicas: fc.option(fc.nat(10), { nil: undefined }),
});
type Plan = typeof plan extends fc.Arbitrary<infer T> ? T : never;

function deploymentFrom(p: Plan): JsonObject {
  const labels: Record<string, string> = { ...p.labels, [OPT_IN]: 'true' };
  const annotations: Record<string, string> = { ...p.annotations };
  const tLabels: Record<string, string> = { ...p.templateLabels };
  const tAnnotations: Record<string, string> = { ...p.templateAnnotations };
  const svcOrder = ['annotation', 'template', 'deployment', 'k8sName'];
  const svcAt = (where: string): string => (where === p.serviceAt ? p.service : p.decoyService);
  const below = (where: string): boolean => svcOrder.indexOf(where) >= svcOrder.indexOf(p.serviceAt);
  if (below('annotation')) annotations['canary-webhook/service'] = svcAt('annotation');
  if (below('template')) tLabels.app = svcAt('template');
  if (below('deployment')) labels.app = svcAt('deployment');
  if (below('k8sName')) tLabels['app.kubernetes.io/name'] = svcAt('k8sName');

  const explicit = new Set<string>(p.explicitAt);
  if (explicit.has('template')) tLabels.version = p.version;
  if (explicit.has('deployment')) labels.version = p.version;
  if (explicit.has('annotation')) annotations['canary-webhook/version'] = p.version;
  const tracked = explicit.size === 0 ? p.fallbackAt : undefined;
  if (tracked === 'k8sVersion' || (tracked === undefined && p.decoyK8sVersion)) {
    tLabels['app.kubernetes.io/version'] = tracked ? p.version : p.decoyVersion;
  }
  const tag = tracked === 'image' ? p.version : p.decoyVersion;
  const image = `${p.registry}${p.service}:${tag}${p.digest ? `@sha256:${'a'.repeat(64)}` : ''}`;
  if (p.injectLabel !== undefined) tLabels[INJECT] = p.injectLabel;
  if (p.injectAnnotation !== undefined) tAnnotations[INJECT] = p.injectAnnotation;

  const map = (m: Record<string, string>): unknown => (Object.keys(m).length > 0 ? m : { absent: undefined, null: null, empty: {}, noMetadata: undefined }[p.emptyMapAs]);
  const templateMeta: JsonObject = { labels: map(tLabels), annotations: map(tAnnotations) };
  const selector = p.selector === 'expressions'
    ? { matchExpressions: [{ key: 'app', operator: 'Exists' }] }
    : { matchLabels: p.selector === 'app' ? { app: p.service } : { app: p.service, version: p.version } };
  return JSON.parse(JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${p.service}-canary`, labels, annotations: p.annotations === undefined && Object.keys(annotations).length === 0 ? undefined : annotations },
    spec: {
      replicas: p.replicas,
      selector,
      strategy: { type: 'RollingUpdate' },
      template: {
        ...(p.emptyMapAs === 'noMetadata' && templateMeta.labels === undefined && templateMeta.annotations === undefined ? {} : { metadata: templateMeta }),
        spec: { containers: [{ name: p.service, image, ports: [{ containerPort: 9080 }] }] },
      },
    },
  })) as JsonObject;
}

/** The fields SPEC §2 lets the webhook write, and the maps it may create to hold them. */
const WRITABLE = new Set([
  '/metadata/labels/version',
  '/spec/selector/matchLabels/version',
  '/spec/template/metadata/labels/version',
  '/spec/template/metadata/labels/app',
  '/spec/template/metadata/labels/sidecar.istio.io~1inject',
  '/spec/template/metadata/annotations/sidecar.istio.io~1inject',
  '/spec/template/metadata/labels/istio.io~1rev',
]);

/**
 * Every op writes a SPEC §2 field, or adds a map holding only such fields.
 * Only the injection switch may overwrite a value (never the user's "false");
 * `app` is set only when absent; the version only where missing (sources agree).
 */
function assertOnlyWritableFields(original: JsonObject, op: Operation): void {
  assert.ok(op.op === 'add' || op.op === 'replace', `unexpected ${op.op} at ${op.path}`);
  const existing = valueAt(original, op.path);
  if (op.op === 'replace') {
    // Injection is only ever filled in where the user said nothing (""); a value of theirs is kept.
    const overwritable = op.path.endsWith('/sidecar.istio.io~1inject') ? existing === '' : existing === null;
    assert.ok(overwritable, `${op.path}: ${JSON.stringify(existing)} must not be overwritten`);
  }
  if (WRITABLE.has(op.path)) return;
  const value = (op as { value: unknown }).value;
  assert.ok(typeof value === 'object' && value !== null, `write outside SPEC §2 fields: ${op.path}`);
  for (const [key, inner] of Object.entries(value)) {
    assertOnlyWritableFields(original, { op: 'add', path: `${op.path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: inner });
  }
}

function valueAt(document: unknown, pointer: string): unknown {
  const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  return at(document, ...keys);
}

function checkMutation(original: JsonObject, ctx: MutationContext, version: string): JsonObject {
  const before = structuredClone(original);
  const outcome = mutateDeployment(original, ctx);
  assert.equal(outcome.kind, 'mutate', JSON.stringify(outcome));
  if (outcome.kind !== 'mutate') throw new Error('unreachable');
  assert.deepEqual(original, before);
  const patch = diffPatch(original, outcome.mutated);
  for (const op of patch) assertOnlyWritableFields(original, op);
  const result = jsonpatch.applyPatch(structuredClone(original), patch, true).newDocument;
  assert.deepEqual(result, outcome.mutated);
  const again = mutateDeployment(result, ctx);
  assert.ok(again.kind === 'mutate');
  assert.deepEqual(diffPatch(result, again.mutated), []);
  assert.deepEqual(outcome.subset.labels, { version });
  assert.match(outcome.subset.subsetName, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  for (const warning of outcome.warnings) assert.ok(warning.length < 120, warning);
  return result;
}

const injectMode = fc.constantFrom<RuleSettings['injectMode']>('label', 'annotation', 'both');
const istioRevision = fc.option(fc.constantFrom('1-24-0', 'canary'), { nil: undefined });
/** SPEC §2: every way a namespace spells injection, and an unknown namespace. */
const namespaceLabels = fc.constantFrom<Record<string, string> | undefined>(
  undefined,
  {},
  { 'istio-injection': 'enabled' },
  { 'istio-injection': 'disabled' },
  { 'istio.io/rev': 'canary' },
  { 'istio.io/dataplane-mode': 'ambient' },
);
const withMesh = (ctx: MutationContext, labels: Record<string, string> | undefined): MutationContext => (labels === undefined ? ctx : { ...ctx, namespaceLabels: labels });
const NOTHING_ADDED = [{ 'istio-injection': 'disabled' }, { 'istio.io/dataplane-mode': 'ambient' }].map((labels) => JSON.stringify(labels));

describe('mutation properties', () => {
  it('CREATE: the patch applies, touches only SPEC §2 fields, and a second pass is a no-op', () => {
    fc.assert(fc.property(plan, injectMode, istioRevision, namespaceLabels, (p, mode, revision, labels) => {
      const original = deploymentFrom(p);
      const stored = checkMutation(original, withMesh(createCtx({ injectMode: mode, istioRevision: revision }), labels), p.version);
      if (NOTHING_ADDED.includes(JSON.stringify(labels))) {
        assert.deepEqual(at(stored, 'spec', 'template', 'metadata', 'labels', INJECT), at(original, 'spec', 'template', 'metadata', 'labels', INJECT));
        assert.deepEqual(at(stored, 'spec', 'template', 'metadata', 'annotations', INJECT), at(original, 'spec', 'template', 'metadata', 'annotations', INJECT));
        assert.equal(at(stored, 'spec', 'template', 'metadata', 'labels', 'istio.io/rev'), undefined);
      }
    }), { numRuns: RUNS });
  });

  it('UPDATE against the stored result: same guarantees, version kept', () => {
    fc.assert(fc.property(plan, injectMode, istioRevision, namespaceLabels, (p, mode, revision, labels) => {
      const settings = { injectMode: mode, istioRevision: revision };
      const stored = checkMutation(deploymentFrom(p), withMesh(createCtx(settings), labels), p.version);
      checkMutation(deploymentFrom(p), withMesh(updateCtx(stored, settings), labels), p.version);
    }), { numRuns: RUNS });
  });

  it('never throws on arbitrary JSON in any field', () => {
    const base = deploymentFrom(fc.sample(plan, { numRuns: 1, seed: 7 })[0] as Plan);
    const paths = [['spec'], ['spec', 'selector'], ['spec', 'template'], ['spec', 'template', 'metadata'], ['metadata', 'labels', 'version'], ['metadata', 'annotations'], ['spec', 'template', 'spec', 'containers']];
    fc.assert(fc.property(fc.constantFrom(...paths), fc.jsonValue(), fc.constantFrom('CREATE', 'UPDATE') as fc.Arbitrary<'CREATE' | 'UPDATE'>, (path, junk, operation) => {
      const deployment = structuredClone(base);
      let parent = deployment;
      for (const key of path.slice(0, -1)) parent = parent[key] as JsonObject;
      parent[path[path.length - 1] as string] = junk;
      const outcome = mutateDeployment(deployment, { ...createCtx(), operation, oldObject: junk });
      assert.ok(['skip', 'deny', 'mutate'].includes(outcome.kind));
      if (outcome.kind === 'deny') assert.ok(!outcome.message.includes('could not process'), outcome.message);
      if (outcome.kind === 'mutate') jsonpatch.applyPatch(structuredClone(deployment), diffPatch(deployment, outcome.mutated), true);
    }), { numRuns: RUNS });
  });
});
