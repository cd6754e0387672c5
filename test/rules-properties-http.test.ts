// The rule properties of issue 7, end to end through the HTTP endpoints
// (envelope, base64 patch and all), against straightforward reference
// computations written from SPEC §2 and §3 rather than from the code:
//  - a generated canary Deployment's patch applies cleanly, touches only the
//    fields SPEC §2 names, and a second pass (CREATE again, or UPDATE against
//    the stored result) answers with no patch;
//  - a generated VirtualService's weight verdict equals the reference one.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import jsonpatch, { type Operation } from 'fast-json-patch';
import request from 'supertest';
import { buildApp, decodePatch, review, type ReviewAnswer } from './support/app-harness.js';
import { destinationRule } from './support/objects.js';

let server: Server;

before(async () => {
  const { app } = buildApp({ seed: [destinationRule('default', 'demo4', 'demo4', ['v1', 'v2'])] });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
});

after(async () => {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
});

async function post(path: string, body: unknown): Promise<ReviewAnswer> {
  return (await request(server).post(path).send(body as object).expect(200)).body as ReviewAnswer;
}

// ---------------------------------------------------------------------------
// Mutation

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const version = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?$/).filter((v) => v !== 'latest');
const reserved = /^(app|version|app\.kubernetes\.io\/|sidecar\.istio\.io\/|canary-webhook\/)/;
const extraMap = fc.dictionary(fc.stringMatching(/^([a-z0-9.]{1,8}\/)?[a-z][a-z0-9-]{0,8}$/).filter((k) => !reserved.test(k)), fc.stringMatching(/^[a-z0-9]{0,8}$/), { maxKeys: 3 });

/** Where the version comes from; one source only, so there is never a conflict to deny. */
const canary = fc.record({
  app: dnsLabel,
  version,
  versionAt: fc.constantFrom('template', 'deployment', 'annotation', 'image'),
  labels: extraMap,
  templateLabels: extraMap,
  templateAnnotations: fc.option(extraMap, { nil: undefined }),
  selectorHasVersion: fc.boolean(),
  spec: fc.record({ replicas: fc.nat(5), strategy: fc.constant({ type: 'RollingUpdate' }), revisionHistoryLimit: fc.nat(10) }, { requiredKeys: [] }),
  containers: fc.array(fc.record({ name: dnsLabel, ports: fc.constant([{ containerPort: 9898 }]), env: fc.array(fc.record({ name: fc.constantFrom('A', 'B'), value: fc.string({ maxLength: 5 }) }), { maxLength: 2 }) }), { minLength: 0, maxLength: 2 }),
}).filter((c) => c.versionAt !== 'image' || /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(c.version));
type Canary = typeof canary extends fc.Arbitrary<infer T> ? T : never;

function deploymentOf(c: Canary): Record<string, unknown> {
  const templateLabels: Record<string, string> = { ...c.templateLabels, app: c.app, ...(c.versionAt === 'template' ? { version: c.version } : {}) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: `${c.app}-x`,
      labels: { ...c.labels, app: c.app, 'canary-webhook/enabled': 'true', ...(c.versionAt === 'deployment' ? { version: c.version } : {}) },
      ...(c.versionAt === 'annotation' ? { annotations: { 'canary-webhook/version': c.version } } : {}),
    },
    spec: {
      ...c.spec,
      selector: { matchLabels: { app: c.app, ...(c.selectorHasVersion && c.versionAt === 'template' ? { version: c.version } : {}) } },
      template: {
        metadata: { labels: templateLabels, ...(c.templateAnnotations === undefined ? {} : { annotations: c.templateAnnotations }) },
        spec: { containers: [{ name: 'main', image: `registry.example.com/team/${c.app}:${c.versionAt === 'image' ? c.version : '1.0.0'}` }, ...c.containers.map((x) => ({ ...x, image: 'busybox:1.36' }))] },
      },
    },
  };
}

/** JSON Pointers (after unescaping) a canary patch may touch, SPEC §2. */
const allowedPaths = [
  /^\/metadata\/labels(\/version)?$/,
  /^\/spec\/template\/metadata$/,
  /^\/spec\/template\/metadata\/labels(\/(version|app|sidecar\.istio\.io~1inject))?$/,
  /^\/spec\/template\/metadata\/annotations(\/sidecar\.istio\.io~1inject)?$/,
  /^\/spec\/selector\/matchLabels(\/version)?$/,
];

describe('canary Deployments through POST /mutate (fast-check)', () => {
  it('patch applies, touches only SPEC §2 fields, and a second pass (CREATE or UPDATE) changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(canary, async (c) => {
        const deployment = deploymentOf(c);
        const first = await post('/mutate', review(deployment, { namespace: 'props' }));
        assert.equal(first.response.allowed, true, first.response.status?.message);
        const patch = decodePatch(first) as Operation[];
        assert.ok(patch.length > 0, 'a fresh canary Deployment is always patched');
        for (const op of patch) {
          assert.ok(allowedPaths.some((p) => p.test(op.path)), `patch touches ${op.op} ${op.path}`);
        }
        // validateOperation: the patch must apply to the very object sent, as the API server applies it.
        const patched = jsonpatch.applyPatch(structuredClone(deployment), patch, true, false).newDocument as Record<string, unknown>;
        const labels = (patched.metadata as { labels: Record<string, string> }).labels;
        const template = (patched.spec as { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } } }).template.metadata;
        assert.equal(labels.version, c.version);
        assert.equal(template.labels.version, c.version);
        assert.equal(template.labels['sidecar.istio.io/inject'], 'true');
        assert.equal(template.annotations['sidecar.istio.io/inject'], 'true');
        assert.equal((patched.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels.version, c.version);

        const again = await post('/mutate', review(patched, { namespace: 'props' }));
        assert.equal(again.response.allowed, true);
        assert.equal(again.response.patch, undefined, 'CREATE of the mutated object is patched again');
        const update = await post('/mutate', review(patched, { namespace: 'props', operation: 'UPDATE', oldObject: patched }));
        assert.equal(update.response.allowed, true);
        assert.equal(update.response.patch, undefined, 'UPDATE against the stored result is patched again');
      }),
      { numRuns: 250 },
    );
  });
});

// ---------------------------------------------------------------------------
// Weights

const weight = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 100 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 10, 50, 90, 100) },
  { weight: 1, arbitrary: fc.integer({ min: 101, max: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: -100, max: -1 }) },
  { weight: 1, arbitrary: fc.constantFrom(0.5, 33.3, 99.9, 1e-9) },
  { weight: 1, arbitrary: fc.constantFrom('50', '100', 'ten', true, [50], { value: 50 }) },
);
/** A route whose weights tend to sum to 100, so allowed and denied cases both occur. */
const route = fc.oneof(
  fc.array(fc.record({ subset: fc.constantFrom('v1', 'v2', undefined), weight: fc.option(weight, { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
  fc.tuple(fc.integer({ min: 0, max: 100 }), fc.boolean()).map(([a, exact]) => [{ subset: 'v1', weight: a }, { subset: 'v2', weight: exact ? 100 - a : 101 - a }]),
);
const section = fc.array(fc.oneof({ weight: 5, arbitrary: route.map((r) => ({ route: r })) }, { weight: 1, arbitrary: fc.constant({ redirect: { uri: '/elsewhere' } }) }), { minLength: 0, maxLength: 3 });
const virtualServiceSpec = fc.record({ http: section, tcp: section, tls: section }, { requiredKeys: [] });

type RouteEntry = { subset?: string; weight?: unknown };

/** SPEC §3 "Weights", written out plainly. Returns the expected problems as `path: sum` (sum only when that is the problem). */
function referenceVerdict(spec: Record<string, Array<{ route?: RouteEntry[] }>>): { allowed: boolean; sums: string[] } {
  let allowed = true;
  const sums: string[] = [];
  for (const kind of ['http', 'tcp', 'tls']) {
    (spec[kind] ?? []).forEach((entry, i) => {
      const routes = entry.route;
      if (routes === undefined) return;
      const weights = routes.map((r) => r.weight);
      const valid = (w: unknown) => w === undefined || (typeof w === 'number' && Number.isInteger(w) && w >= 0);
      if (!weights.every(valid)) allowed = false;
      if (routes.length >= 2) {
        const numbers = weights.map((w) => (w === undefined ? 0 : (w as number)));
        if (numbers.some((w) => w > 100)) allowed = false;
        if (weights.every(valid)) {
          const sum = numbers.reduce((a, b) => a + b, 0);
          if (sum !== 100) {
            allowed = false;
            sums.push(`spec.${kind}[${i}].route: weights sum to ${sum}, must be 100`);
          }
        }
      }
    });
  }
  return { allowed, sums };
}

describe('VirtualService weights through POST /validate (fast-check)', () => {
  it('gives the verdict of the reference computation, and the sum in the message', async () => {
    let allowedSeen = 0;
    let deniedSeen = 0;
    await fc.assert(
      fc.asyncProperty(virtualServiceSpec, async (generated) => {
        const spec: Record<string, unknown> = { hosts: ['demo4'] };
        for (const [kind, entries] of Object.entries(generated)) {
          spec[kind] = entries.map((entry) => ('route' in entry
            ? { route: (entry.route as RouteEntry[]).map((r) => ({ destination: { host: 'demo4', ...(r.subset ? { subset: r.subset } : {}) }, ...(r.weight === undefined ? {} : { weight: r.weight }) })) }
            : entry));
        }
        const answer = await post('/validate', review({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'demo4' }, spec }));
        const expected = referenceVerdict(generated as Record<string, Array<{ route?: RouteEntry[] }>>);
        const message = answer.response.status?.message ?? '';
        assert.equal(answer.response.allowed, expected.allowed, `expected ${expected.allowed ? 'allowed' : 'denied'}; got: ${message}`);
        for (const sum of expected.sums) assert.ok(message.includes(sum), `missing "${sum}" in: ${message}`);
        if (expected.allowed) allowedSeen += 1;
        else deniedSeen += 1;
      }),
      { numRuns: 500 },
    );
    assert.ok(allowedSeen > 50 && deniedSeen > 50, `both verdicts exercised (allowed ${allowedSeen}, denied ${deniedSeen})`);
  });
});
