// `check` and `inject` take serve's `--subset-placement` and `--max-subsets`
// (and their environment variables), and then answer as the webhook does: the
// same verdict and the same denial text, in process through the CLI's
// dispatcher and once through the binary's entry in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import request from 'supertest';
import { parseAllDocuments, stringify } from 'yaml';
import { runCli } from '../src/cli/dispatch.js';
import type { Finding } from '../src/cli/findings.js';
import { ConfigError, parseServeConfig, placementSettings } from '../src/config.js';
import type { DestinationRule, RuleSettings } from '../src/rules/types.js';
import { connectKubeStore } from '../src/store/kube/kube-store.js';
import { buildApp, review, type ReviewAnswer } from './support/app-harness.js';
import { runCaptured, type CapturedRun } from './support/cli-run.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { companionSettings, memoryLogger } from './support/kube-fixtures.js';
import { canaryDeployment, destinationRule, virtualService } from './support/objects.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const NAMESPACE = 'shop';

const cli = (argv: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CapturedRun> => runCaptured(runCli, argv, { cwd, env });

/** A folder of manifests, one object per file, as a repository keeps them. */
function folder(files: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), 'cw-placement-'));
  for (const [name, object] of Object.entries(files)) writeFileSync(join(root, name), stringify(object));
  return root;
}

const versions = (count: number): string[] => Array.from({ length: count }, (_, i) => `v${i + 1}`);

/** A rule the webhook wrote earlier (managed-by label), holding `subsets`. */
function managedRule(name: string, subsets: string[]): DestinationRule {
  const rule = destinationRule(NAMESPACE, name, `reviews.${NAMESPACE}.svc.cluster.local`, subsets);
  rule.metadata.labels = { 'app.kubernetes.io/managed-by': 'canary-webhook' };
  return rule;
}

/** A rule kept in Git: the webhook does not own it. */
const userRule = (subsets: string[]): DestinationRule => destinationRule(NAMESPACE, 'reviews', 'reviews', subsets);

function deployment(version: string): Record<string, unknown> {
  const object = canaryDeployment(`reviews-${version}`, version, { app: 'reviews' });
  (object.metadata as Record<string, unknown>).namespace = NAMESPACE;
  return object;
}

function routeVs(weights: Record<string, number>): Record<string, unknown> {
  const object = virtualService('reviews', 'reviews', Object.entries(weights).map(([subset, weight]) => ({ subset, weight })));
  (object.metadata as Record<string, unknown>).namespace = NAMESPACE;
  return object;
}

/** What the webhook (standalone store seeded with `seed`) answers for the Deployment, then for the VirtualService if any. */
async function webhook(seed: DestinationRule[], settings: Partial<RuleSettings>, dep: Record<string, unknown>, vs?: Record<string, unknown>): Promise<{ allowed: boolean; errors: string[] }> {
  const { app } = buildApp({ seed: structuredClone(seed), settings });
  const mutated = (await request(app).post('/mutate').send(review(dep, { namespace: NAMESPACE })).expect(200)).body as ReviewAnswer;
  if (!mutated.response.allowed || vs === undefined) return answerOf(mutated);
  return answerOf((await request(app).post('/validate').send(review(vs, { namespace: NAMESPACE })).expect(200)).body as ReviewAnswer);
}

const answerOf = (answer: ReviewAnswer): { allowed: boolean; errors: string[] } =>
  ({ allowed: answer.response.allowed, errors: answer.response.allowed ? [] : (answer.response.status?.message ?? '').split('\n') });

/** `check -o json`: the verdict and each error as the webhook words it (`path: message`). */
async function offline(root: string, flags: string[], env: NodeJS.ProcessEnv = {}): Promise<{ allowed: boolean; errors: string[]; findings: Finding[] }> {
  const run = await cli(['check', '-f', '.', '-o', 'json', ...flags], root, env);
  assert.ok(run.code === 0 || run.code === 1, `exit ${run.code}: ${run.stderr}`);
  const findings = JSON.parse(run.stdout) as Finding[];
  const errors = findings.filter((f) => f.severity === 'error').map((f) => (f.path === '' ? f.message : `${f.path}: ${f.message}`));
  assert.equal(run.code === 1, errors.length > 0, 'exit 1 exactly when something would be denied');
  return { allowed: run.code === 0, errors, findings };
}

describe('check --max-subsets: a canary past the limit is refused as the webhook refuses it', () => {
  // The default limit, so the case without flags is the webhook's default too.
  const full = managedRule('reviews', versions(64));
  const root = folder({ 'reviews-rule.yaml': full, 'reviews-v65.yaml': deployment('v65') });

  const cases: Array<{ name: string; flags: string[]; env: NodeJS.ProcessEnv; settings: Partial<RuleSettings>; allowed: boolean }> = [
    { name: 'no flag: serve\'s default 64', flags: [], env: {}, settings: {}, allowed: false },
    { name: '--max-subsets 65', flags: ['--max-subsets', '65'], env: {}, settings: { maxSubsets: 65 }, allowed: true },
    { name: 'CANARY_WEBHOOK_MAX_SUBSETS=65', flags: [], env: { CANARY_WEBHOOK_MAX_SUBSETS: '65' }, settings: { maxSubsets: 65 }, allowed: true },
    { name: 'the flag wins over the variable', flags: ['--max-subsets=64'], env: { CANARY_WEBHOOK_MAX_SUBSETS: '65' }, settings: { maxSubsets: 64 }, allowed: false },
    { name: 'append placement counts the same managed rule', flags: ['--subset-placement', 'append'], env: {}, settings: { subsetPlacement: 'append' }, allowed: false },
  ];
  for (const { name, flags, env, settings, allowed } of cases) {
    it(`${name}: ${allowed ? 'admitted' : 'denied'}, offline and by the webhook`, async () => {
      const served = await webhook([full], settings, deployment('v65'));
      const checked = await offline(root, flags, env);
      assert.equal(served.allowed, allowed, 'the webhook\'s verdict');
      assert.equal(checked.allowed, allowed, 'check\'s verdict');
      assert.deepEqual(checked.errors, served.errors, 'the webhook\'s denial text, word for word');
    });
  }

  it('prints the denial at the Deployment, with the count and how to clean up, and exits 1', async () => {
    const run = await cli(['check', '-f', '.'], root);
    assert.equal(run.code, 1, run.stderr);
    const [finding, summary, ...rest] = run.stdout.trimEnd().split('\n');
    assert.deepEqual(rest, []);
    assert.equal(
      finding,
      'reviews-v65.yaml:1:1: Deployment shop/reviews-v65: DestinationRule shop/reviews already holds 64 subsets, the most the webhook keeps in one rule ' +
        '(--max-subsets=64); remove the subsets of versions no longer deployed (kubectl edit destinationrule -n shop reviews) and apply again',
    );
    assert.match(summary ?? '', /^1 error, 0 warnings: checked 0 VirtualServices and 1 canary Deployment against 1 DestinationRule/);
  });

  it('counts the subsets earlier canaries of the same input add: the second new version is the one refused', async () => {
    const tight = folder({ 'rule.yaml': managedRule('reviews', ['v1']), 'reviews-v2.yaml': deployment('v2'), 'reviews-v3.yaml': deployment('v3') });
    const checked = await offline(tight, ['--max-subsets', '2']);
    assert.deepEqual(checked.findings.filter((f) => f.severity === 'error').map((f) => f.name), ['reviews-v3']);
    assert.match(checked.errors[0] ?? '', /already holds 2 subsets.*--max-subsets=2/);
    assert.equal((await offline(tight, ['--max-subsets', '3'])).allowed, true);
  });
});

describe('check at the largest limit: thousands of canaries of one service', () => {
  it('3,000 new versions in one input with --max-subsets 2999: every one planned, only the last refused', async () => {
    const text = versions(3_000).map((version) => stringify(deployment(version))).join('---\n');
    const root = mkdtempSync(join(tmpdir(), 'cw-placement-many-'));
    writeFileSync(join(root, 'canaries.yaml'), text);
    const checked = await offline(root, ['--max-subsets', '2999']);
    const refused = checked.findings.filter((f) => f.severity === 'error');
    assert.deepEqual(refused.map((f) => f.name), ['reviews-v3000']);
    assert.match(refused[0]!.message, /^DestinationRule shop\/reviews already holds 2999 subsets, the most the webhook keeps in one rule \(--max-subsets=2999\)/);
  });
});

describe('check --subset-placement: where the planned subset goes shows in the verdict and the messages', () => {
  const gitRule = userRule(['v1', 'v2']);

  it('a user-owned rule at the limit: companion admits (new companion rule), append refuses naming the user\'s rule', async () => {
    const root = folder({ 'reviews-rule.yaml': gitRule, 'reviews-v3.yaml': deployment('v3') });
    for (const placement of ['companion', 'append'] as const) {
      const served = await webhook([gitRule], { subsetPlacement: placement, maxSubsets: 2 }, deployment('v3'));
      const checked = await offline(root, ['--subset-placement', placement, '--max-subsets', '2']);
      assert.equal(checked.allowed, placement === 'companion', placement);
      assert.equal(checked.allowed, served.allowed, `${placement}: the webhook's verdict`);
      assert.deepEqual(checked.errors, served.errors, `${placement}: the webhook's denial`);
    }
    const appended = await offline(root, ['--max-subsets', '2'], { CANARY_WEBHOOK_SUBSET_PLACEMENT: 'append' });
    assert.deepEqual(appended.errors, [
      'DestinationRule shop/reviews already holds 2 subsets, the most the webhook keeps in one rule (--max-subsets=2); ' +
        'remove the subsets of versions no longer deployed (kubectl edit destinationrule -n shop reviews) and apply again',
    ]);
  });

  it('a route to a missing subset names the rules that define the others: the companion beside the user rule, or the user rule alone', async () => {
    const vs = routeVs({ v3: 90, v4: 10 });
    const root = folder({ 'reviews-rule.yaml': gitRule, 'reviews-v3.yaml': deployment('v3'), 'reviews-vs.yaml': vs });
    const expected = {
      companion: 'DestinationRules shop/reviews, shop/reviews-canary-webhook (merged) define v1, v2, v3',
      append: 'DestinationRule shop/reviews defines v1, v2, v3',
    };
    for (const placement of ['companion', 'append'] as const) {
      const served = await webhook([gitRule], { subsetPlacement: placement }, deployment('v3'), vs);
      const checked = await offline(root, placement === 'append' ? ['--subset-placement=append'] : []);
      assert.equal(checked.allowed, false);
      assert.deepEqual(checked.errors, served.errors, `${placement}: the webhook's denial`);
      assert.deepEqual(checked.errors, [`spec.http[0].route[1]: subset "v4" of host reviews.shop.svc.cluster.local is not defined; ${expected[placement]}`]);
    }
  });
});

describe('inject honours the same flags and variables', () => {
  const gitRule = userRule(['v1']);
  const root = folder({ 'reviews-rule.yaml': gitRule, 'reviews-v2.yaml': deployment('v2') });
  const kinds = (stdout: string): string[] =>
    parseAllDocuments(stdout).map((doc) => doc.toJS() as { kind: string; metadata: { name: string }; spec?: { subsets?: Array<{ name: string }> } })
      .map((o) => `${o.kind}/${o.metadata.name}${o.kind === 'DestinationRule' ? `[${(o.spec?.subsets ?? []).map((s) => s.name).join(',')}]` : ''}`);

  it('companion prints the companion after the Deployment; append (flag or variable) edits the user rule in place; the flag wins', async () => {
    const companion = await cli(['inject', '-f', '.'], root);
    assert.equal(companion.code, 0, companion.stderr);
    assert.deepEqual(kinds(companion.stdout), ['DestinationRule/reviews[v1]', 'Deployment/reviews-v2', 'DestinationRule/reviews-canary-webhook[v2]']);

    const byFlag = await cli(['inject', '-f', '.', '--subset-placement', 'append'], root);
    const byEnv = await cli(['inject', '-f', '.'], root, { CANARY_WEBHOOK_SUBSET_PLACEMENT: 'append' });
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.deepEqual(kinds(byFlag.stdout), ['DestinationRule/reviews[v1,v2]', 'Deployment/reviews-v2']);
    assert.equal(byEnv.stdout, byFlag.stdout);

    const flagWins = await cli(['inject', '-f', '.', '--subset-placement', 'companion'], root, { CANARY_WEBHOOK_SUBSET_PLACEMENT: 'append' });
    assert.equal(flagWins.stdout, companion.stdout);
  });

  it('past --max-subsets: nothing on stdout, the webhook\'s denial on stderr, exit 1', async () => {
    const served = await webhook([gitRule], { subsetPlacement: 'append', maxSubsets: 1 }, deployment('v2'));
    assert.equal(served.allowed, false);
    const run = await cli(['inject', '-f', '.', '--subset-placement', 'append'], root, { CANARY_WEBHOOK_MAX_SUBSETS: '1' });
    assert.equal(run.code, 1);
    assert.match(served.errors[0] ?? '', /^DestinationRule shop\/reviews already holds 1 subset, the most/);
    assert.equal(run.stdout, '');
    assert.deepEqual(run.stderr.split('\n'), [
      'note: without --cluster, assumed the cluster holds these DestinationRules for reviews.shop.svc.cluster.local: shop/reviews (input)',
      `reviews-v2.yaml:1:1: Deployment shop/reviews-v2: ${served.errors.join('\n')}`,
      '',
    ]);
  });
});

describe('bad values: exit 2, one line naming what was set, as serve words it', () => {
  const root = folder({ 'reviews-v2.yaml': deployment('v2') });
  const cases: Array<{ flags: string[]; env: NodeJS.ProcessEnv; error: string }> = [
    { flags: ['--max-subsets', 'abc'], env: {}, error: '--max-subsets must be an integer from 1 to 10000, got "abc"' },
    { flags: ['--max-subsets=0'], env: {}, error: '--max-subsets must be an integer from 1 to 10000, got "0"' },
    { flags: ['--max-subsets', '2.5'], env: {}, error: '--max-subsets must be an integer from 1 to 10000, got "2.5"' },
    { flags: [], env: { CANARY_WEBHOOK_MAX_SUBSETS: '10001' }, error: 'CANARY_WEBHOOK_MAX_SUBSETS must be an integer from 1 to 10000, got "10001"' },
    { flags: ['--subset-placement', 'sideways'], env: {}, error: '--subset-placement must be one of companion, append, got "sideways"' },
    { flags: [], env: { CANARY_WEBHOOK_SUBSET_PLACEMENT: 'Append' }, error: 'CANARY_WEBHOOK_SUBSET_PLACEMENT must be one of companion, append, got "Append"' },
  ];
  for (const { flags, env, error } of cases) {
    it(`${[...flags, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`, async () => {
      assert.throws(() => parseServeConfig(flags, env), (thrown: unknown) => thrown instanceof ConfigError && thrown.message === error, 'serve says the same');
      for (const command of ['check', 'inject']) {
        const run = await cli([command, '-f', '.', ...flags], root, env);
        assert.equal(run.code, 2, command);
        assert.equal(run.stdout, '', command);
        assert.equal(run.stderr, `canary-webhook ${command}: ${error}\nRun 'canary-webhook ${command} --help' for usage.\n`);
      }
    });
  }

  it('through the binary\'s entry: exit 2 and the same line on stderr', async () => {
    const main = join(repo, 'src/cli/main.ts');
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', main, 'check', '-f', root, '--max-subsets', 'many'], {
      cwd: repo,
      env: { PATH: process.env.PATH },
    }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (failure: { code: number; stdout: string; stderr: string }) => failure,
    );
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'canary-webhook check: --max-subsets must be an integer from 1 to 10000, got "many"\nRun \'canary-webhook check --help\' for usage.\n');
  });

  it('defaults are serve\'s, and both commands\' help lists the flags with their variables', async () => {
    const served = parseServeConfig([], {}).settings;
    assert.deepEqual(placementSettings({}, {}), { subsetPlacement: served.subsetPlacement, maxSubsets: served.maxSubsets });
    for (const command of ['check', 'inject']) {
      const help = (await cli([command, '--help'], root)).stdout;
      assert.match(help, /--subset-placement P .*\n.*\n.*default "companion"; \$CANARY_WEBHOOK_SUBSET_PLACEMENT/, command);
      assert.match(help, /--max-subsets N .*\n.*default 64; \$CANARY_WEBHOOK_MAX_SUBSETS/, command);
    }
  });
});

describe('check --cluster --max-subsets: the companion in the cluster is already full', () => {
  const api = new FakeApiServer();
  let kubeconfig: string;
  const gitRule = destinationRule(NAMESPACE, 'reviews', 'reviews', ['v1'], { exportTo: ['.'] });
  const companion = managedRule('reviews-canary-webhook', ['v2', 'v3']);
  companion.spec.exportTo = ['.'];
  const root = folder({ 'reviews-v4.yaml': deployment('v4') });

  before(async () => {
    await api.start();
    api.put('destinationrules', gitRule as never);
    api.put('destinationrules', companion as never);
    kubeconfig = api.writeKubeconfig(join(mkdtempSync(join(tmpdir(), 'cw-placement-kube-')), 'kubeconfig'));
  });
  after(() => api.stop());

  it('--max-subsets 2 is refused and 3 admitted, with the verdict and text of the webhook on the same cluster', async () => {
    // 2 first: a refusal writes nothing, so the cluster is the same for the second round until the webhook admits v4.
    for (const maxSubsets of [2, 3]) {
      const checked = await offline(root, ['--cluster', '--kubeconfig', kubeconfig, '--max-subsets', String(maxSubsets)]);
      const store = await connectKubeStore({ kubeConfig: api.kubeConfig(), settings: { ...companionSettings, maxSubsets }, logger: memoryLogger('fatal').logger });
      let served: { allowed: boolean; errors: string[] };
      try {
        assert.equal(await store.waitForSync(5_000), true);
        const { app } = buildApp({ store, settings: { maxSubsets } });
        served = answerOf((await request(app).post('/mutate').send(review(deployment('v4'), { namespace: NAMESPACE })).expect(200)).body as ReviewAnswer);
      } finally {
        await store.close();
      }
      assert.equal(checked.allowed, maxSubsets === 3, `--max-subsets ${maxSubsets}`);
      assert.deepEqual({ allowed: checked.allowed, errors: checked.errors }, served, `--max-subsets ${maxSubsets}: as the webhook answers`);
      if (maxSubsets === 2) assert.match(checked.errors[0] ?? '', /^DestinationRule shop\/reviews-canary-webhook already holds 2 subsets/);
    }
    const stored = api.objects.get('destinationrules', NAMESPACE, 'reviews-canary-webhook') as unknown as DestinationRule;
    assert.deepEqual(stored.spec.subsets?.map((s) => s.name), ['v2', 'v3', 'v4'], 'the webhook did admit v4 under the higher limit');
  });
});
