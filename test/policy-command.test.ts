// `canary-webhook policy`: its output for both weight policies (golden
// files), its flags, and the checked-in deploy/base/policy.yaml that must be
// exactly its output.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../src/cli/dispatch.js';
import { WEIGHT_POLICY_LABEL } from '../src/policy/manifest.js';
import { compilePolicy } from './support/cel-admission.js';
import { runCaptured, type CapturedRun } from './support/cli-run.js';

const golden = (name: string): string => fileURLToPath(new URL(`./golden/${name}`, import.meta.url));
const basePolicyFile = fileURLToPath(new URL('../deploy/base/policy.yaml', import.meta.url));

const cli = (argv: string[]): Promise<CapturedRun> => runCaptured(runCli, argv);

/** Compare with a golden file; UPDATE_GOLDEN=1 rewrites it. */
function assertGolden(name: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden(name), actual);
  assert.equal(actual, readFileSync(golden(name), 'utf8'), `golden file test/golden/${name} (UPDATE_GOLDEN=1 to rewrite)`);
}

type Manifest = { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec: Record<string, unknown> };

function documents(text: string): Manifest[] {
  return parseAllDocuments(text).map((document) => {
    assert.deepEqual(document.errors, []);
    return document.toJS() as Manifest;
  });
}

describe('canary-webhook policy', () => {
  for (const weightPolicy of ['sum-100', 'proportional']) {
    it(`prints the policy and its two bindings for --weight-policy ${weightPolicy}`, async () => {
      const run = await cli(['policy', '--weight-policy', weightPolicy]);
      assert.equal(run.code, 0, run.stderr);
      assertGolden(`policy-${weightPolicy}.yaml`, run.stdout);
      const manifests = documents(run.stdout);
      assert.deepEqual(manifests.map((manifest) => manifest.kind), ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicyBinding']);
      assert.equal(manifests[0]?.metadata.labels?.[WEIGHT_POLICY_LABEL], weightPolicy);
    });
  }

  it('defaults to sum-100, like serve', async () => {
    assert.equal((await cli(['policy'])).stdout, (await cli(['policy', '--weight-policy=sum-100'])).stdout);
  });

  it('the YAML it prints is what the API server would run: 90/5 denied with the webhook\'s words, 90/10 admitted', async () => {
    const [policy] = documents((await cli(['policy'])).stdout);
    const run = compilePolicy(policy!.spec as unknown as Parameters<typeof compilePolicy>[0]);
    const vs = (a: number, b: number) => ({ spec: { http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: a }, { destination: { host: 'reviews', subset: 'v2' }, weight: b }] }] } });
    assert.deepEqual(run(vs(90, 5)), { allowed: false, messages: ['spec.http[0].route: weights sum to 95, must be 100'], errors: [] });
    assert.deepEqual(run(vs(90, 10)), { allowed: true, messages: [], errors: [] });
  });

  it('excludes another webhook namespace with --namespace', async () => {
    const manifests = documents((await cli(['policy', '-n', 'platform'])).stdout);
    const bindings = manifests.filter((manifest) => manifest.kind === 'ValidatingAdmissionPolicyBinding');
    for (const binding of bindings) {
      const selector = (binding.spec.matchResources as { namespaceSelector: { matchExpressions: Array<{ values: string[] }> } }).namespaceSelector;
      assert.deepEqual(selector.matchExpressions[0]?.values, ['kube-system', 'platform']);
    }
  });

  it('refuses bad flags with exit 2 and says why', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['policy', '--weight-policy', 'sum-50'], /--weight-policy must be sum-100 or proportional, got "sum-50"/],
      [['policy', '-n', 'Not_A_Namespace'], /--namespace "Not_A_Namespace" is not a valid namespace name/],
      [['policy', 'extra'], /unexpected argument "extra"/],
      [['policy', '--cluster'], /Unknown option '--cluster'/],
    ];
    for (const [argv, message] of cases) {
      const run = await cli(argv);
      assert.equal(run.code, 2, argv.join(' '));
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
  });

  it('has help, listed in the main help', async () => {
    assert.match((await cli(['help', 'policy'])).stdout, /^Usage: canary-webhook policy/);
    assert.match((await cli(['policy', '--help'])).stdout, /Kubernetes >= 1\.30/);
    assert.match((await cli(['help'])).stdout, /canary-webhook policy \[flags\]/);
  });
});

describe('deploy/base/policy.yaml', () => {
  it('is exactly `canary-webhook policy` output (regenerate: make policy)', async () => {
    const checkedIn = readFileSync(basePolicyFile, 'utf8');
    const weightPolicy = documents(checkedIn)[0]?.metadata.labels?.[WEIGHT_POLICY_LABEL] ?? 'sum-100';
    const run = await cli(['policy', '--weight-policy', weightPolicy]);
    assert.equal(checkedIn, run.stdout, 'deploy/base/policy.yaml drifted from `canary-webhook policy`; run `make policy`');
  });
});
