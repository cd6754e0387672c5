// Bookinfo-shaped Deployments (samples/bookinfo/platform/kube/bookinfo.yaml)
// and a helper that does what the API server does with a mutation: apply the
// patch to the original.
import assert from 'node:assert/strict';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { mutateDeployment } from '../../src/rules/mutate.js';
import { diffPatch } from '../../src/rules/patch.js';
import { defaultRuleSettings } from '../../src/rules/types.js';
import type { JsonObject, MutationContext, MutationOutcome, RuleSettings } from '../../src/rules/types.js';

export const OPT_IN = 'canary-webhook/enabled';
export const INJECT = 'sidecar.istio.io/inject';

/** reviews-v2 from Bookinfo, opted in, as `kubectl apply` sends it (no metadata.namespace). */
export function reviewsDeployment(version = 'v2'): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `reviews-${version}`, labels: { app: 'reviews', version, [OPT_IN]: 'true' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'reviews', version } },
      template: {
        metadata: { labels: { app: 'reviews', version } },
        spec: {
          serviceAccountName: 'bookinfo-reviews',
          containers: [{
            name: 'reviews',
            image: 'registry.istio.io/release/examples-bookinfo-reviews-v2:1.20.3',
            imagePullPolicy: 'IfNotPresent',
            env: [{ name: 'LOG_DIR', value: '/tmp/logs' }],
            ports: [{ containerPort: 9080 }],
          }],
        },
      },
    },
  };
}

/** A canary Deployment that names its version only through the image tag. */
export function taggedDeployment(image: string): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'ratings', labels: { app: 'ratings', [OPT_IN]: 'true' } },
    spec: {
      selector: { matchLabels: { app: 'ratings' } },
      template: {
        metadata: { labels: { app: 'ratings' } },
        spec: { containers: [{ name: 'ratings', image }] },
      },
    },
  };
}

export function createCtx(settings: Partial<RuleSettings> = {}): MutationContext {
  return { operation: 'CREATE', namespace: 'default', settings: { ...defaultRuleSettings, ...settings } };
}

export function updateCtx(oldObject: unknown, settings: Partial<RuleSettings> = {}): MutationContext {
  return { operation: 'UPDATE', namespace: 'default', oldObject, settings: { ...defaultRuleSettings, ...settings } };
}

export type Mutated = Extract<MutationOutcome, { kind: 'mutate' }>;

export interface Applied {
  outcome: Mutated;
  patch: Operation[];
  /** The original with the patch applied, as the API server would store it. */
  result: JsonObject;
}

/** Mutate, apply the patch to the original, and check that the webhook is then a no-op. */
export function mutateAndApply(original: JsonObject, ctx: MutationContext): Applied {
  const before = structuredClone(original);
  const outcome = mutateDeployment(original, ctx);
  assert.equal(outcome.kind, 'mutate', JSON.stringify(outcome));
  const mutated = outcome as Mutated;
  assert.deepEqual(original, before, 'the original must be left untouched');
  const patch = diffPatch(original, mutated.mutated);
  const result = jsonpatch.applyPatch(structuredClone(original), patch, true).newDocument;
  assert.deepEqual(result, mutated.mutated);
  const again = mutateDeployment(result, ctx);
  assert.equal(again.kind, 'mutate', JSON.stringify(again));
  assert.deepEqual(diffPatch(result, (again as Mutated).mutated), [], 'mutating twice must change nothing');
  for (const warning of mutated.warnings) assert.ok(warning.length < 120, `warning too long: ${warning}`);
  return { outcome: mutated, patch, result };
}

export function denial(deployment: unknown, ctx: MutationContext): string {
  const outcome = mutateDeployment(deployment, ctx);
  assert.equal(outcome.kind, 'deny', JSON.stringify(outcome));
  return (outcome as Extract<MutationOutcome, { kind: 'deny' }>).message;
}

/** Read a nested field for assertions. */
export function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
