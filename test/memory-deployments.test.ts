// MemoryDeployments against a plain model: whatever the order of admissions,
// deletes and scalings, the readiness view and the guard's view say the same
// as a list of the latest admissions, oldest first out past either bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { discoverService, readDeployment } from '../src/rules/discovery.js';
import { summarizeWorkloads } from '../src/rules/readiness.js';
import { defaultRuleSettings } from '../src/rules/types.js';
import { MemoryDeployments } from '../src/store/memory-deployments.js';

const settings = defaultRuleSettings;
const NAMESPACES = ['shop', 'other'];
const SERVICES = ['reviews', 'ratings'];
const VERSIONS = ['v1', 'v2'];

interface ModelEntry { namespace: string; name: string; service: string; version: string; replicas: number; labelChars: number }
type Op =
  | { kind: 'upsert'; namespace: string; name: string; app: string | undefined; version: string; replicas: number; padding: number }
  | { kind: 'delete'; namespace: string; name: string };

function deploymentOf(op: Extract<Op, { kind: 'upsert' }>): Record<string, unknown> {
  const labels: Record<string, string> = { version: op.version, ...(op.app ? { app: op.app } : {}), ...(op.padding > 0 ? { pad: 'p'.repeat(op.padding) } : {}) };
  return {
    metadata: { name: op.name, namespace: op.namespace, labels: { 'canary-webhook/enabled': 'true', unrelated: 'kept-nowhere' }, annotations: { note: 'x'.repeat(100) } },
    spec: { replicas: op.replicas, selector: { matchLabels: { version: op.version } }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'i:1' }] } } },
  };
}

const labelCharsOf = (op: Extract<Op, { kind: 'upsert' }>): number =>
  'version'.length + op.version.length + (op.app ? 'app'.length + op.app.length : 0) + (op.padding > 0 ? 'pad'.length + op.padding : 0);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('upsert' as const),
    namespace: fc.constantFrom(...NAMESPACES),
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    app: fc.constantFrom<string | undefined>(...SERVICES, undefined),
    version: fc.constantFrom(...VERSIONS),
    replicas: fc.constantFrom(0, 1, 2),
    padding: fc.constantFrom(0, 0, 10, 40),
  }),
  fc.record({ kind: fc.constant('delete' as const), namespace: fc.constantFrom(...NAMESPACES), name: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
);

function applyToModel(model: ModelEntry[], op: Op, limits: { maxDeployments: number; maxLabelChars: number }): ModelEntry[] {
  let next = model.filter((entry) => !(entry.namespace === op.namespace && entry.name === op.name));
  if (op.kind === 'upsert' && op.app) {
    next.push({ namespace: op.namespace, name: op.name, service: op.app, version: op.version, replicas: op.replicas, labelChars: labelCharsOf(op) });
    const chars = (list: ModelEntry[]) => list.reduce((sum, entry) => sum + entry.labelChars, 0);
    while (next.length > 1 && (next.length > limits.maxDeployments || chars(next) > limits.maxLabelChars)) next = next.slice(1);
  }
  return next;
}

describe('MemoryDeployments', () => {
  it('agrees with a list of the latest admissions, for the readiness view and the guard view alike (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.constantFrom(3, 100), fc.constantFrom(40, 10_000), (ops, maxDeployments, maxLabelChars) => {
        const limits = { maxDeployments, maxLabelChars };
        const store = new MemoryDeployments(settings, limits);
        let model: ModelEntry[] = [];
        for (const op of ops) {
          if (op.kind === 'upsert') store.upsert(deploymentOf(op), op.namespace);
          else store.delete(op.namespace, op.name);
          model = applyToModel(model, op, limits);
        }
        assert.equal(store.size(), model.length);
        assert.ok(store.size() <= maxDeployments);
        for (const namespace of NAMESPACES) {
          const inNamespace = model.filter((entry) => entry.namespace === namespace);
          for (const service of SERVICES) {
            for (const version of VERSIONS) {
              const expected = inNamespace.filter((entry) => entry.service === service && entry.version === version);
              assert.deepEqual(summarizeWorkloads(store.workloadsIn(namespace), { namespace, service, labels: { version } }), {
                source: 'deployments', matching: expected.length, scaled: expected.filter((entry) => entry.replicas > 0).length,
              });
            }
          }
          // The guard reads each remembered Deployment with the mutating side's rules: same name, service and labels.
          const seen = store.deploymentsIn(namespace).map((object) => {
            const view = readDeployment(object);
            assert.ok(view.ok);
            const service = discoverService(view.value, settings);
            assert.ok(service.ok);
            return `${object.metadata.name}:${service.value.value}:${view.value.templateLabels.version}:${object.spec?.replicas}`;
          });
          assert.deepEqual(seen.sort(), inNamespace.map((entry) => `${entry.name}:${entry.service}:${entry.version}:${entry.replicas}`).sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps nothing but the name, service, pod template labels and replicas', () => {
    const store = new MemoryDeployments(settings);
    store.upsert(deploymentOf({ kind: 'upsert', namespace: 'shop', name: 'a', app: 'reviews', version: 'v1', replicas: 2, padding: 0 }), 'shop');
    assert.deepEqual(store.deploymentsIn('shop'), [{
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'a', namespace: 'shop', annotations: { 'canary-webhook/service': 'reviews' } },
      spec: { replicas: 2, selector: {}, template: { metadata: { labels: { version: 'v1', app: 'reviews' } } } },
    }]);
  });

  it('the newest admission stays even when it alone is over the label budget', () => {
    const store = new MemoryDeployments(settings, { maxDeployments: 10, maxLabelChars: 20 });
    store.upsert(deploymentOf({ kind: 'upsert', namespace: 'shop', name: 'a', app: 'reviews', version: 'v1', replicas: 1, padding: 0 }), 'shop');
    store.upsert(deploymentOf({ kind: 'upsert', namespace: 'shop', name: 'b', app: 'reviews', version: 'v2', replicas: 1, padding: 40 }), 'shop');
    assert.deepEqual(store.deploymentsIn('shop').map((d) => d.metadata.name), ['b']);
  });

  it('junk is never remembered and never throws; it forgets an older entry of the same name', () => {
    const store = new MemoryDeployments(settings);
    store.upsert(deploymentOf({ kind: 'upsert', namespace: 'shop', name: 'a', app: 'reviews', version: 'v1', replicas: 1, padding: 0 }), 'shop');
    const junk: unknown[] = [null, 'x', 7, [], {}, { metadata: 'no' }, { metadata: { name: 5 } }, { metadata: { name: '' } },
      { metadata: { name: 'a' }, spec: { template: { metadata: { labels: { app: 7 } } } } }, { metadata: { name: 'a', labels: [] }, spec: [] }];
    for (const object of junk) store.upsert(object, 'shop');
    store.upsert(deploymentOf({ kind: 'upsert', namespace: 'shop', name: 'b', app: 'reviews', version: 'v1', replicas: 1, padding: 0 }), '');
    store.delete('nowhere', 'nothing');
    assert.equal(store.size(), 0);
  });
});
