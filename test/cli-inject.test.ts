// `canary-webhook inject`: mutated Deployments, accumulated DestinationRules,
// byte-for-byte passthrough, and a round trip that changes nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { after, before } from 'node:test';
import { runInject } from '../src/cli/inject.js';
import { runCaptured, type CapturedRun } from './support/cli-run.js';
import { FakeApiServer } from './support/fake-apiserver.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const corpus = fileURLToPath(new URL('../../shared/corpus/istio-samples/', import.meta.url));
const fixtures = fileURLToPath(new URL('./golden/inject/', import.meta.url));

const inject = (argv: string[], options: { cwd?: string; stdin?: string } = {}): Promise<CapturedRun> =>
  runCaptured(runInject, argv, { stdin: options.stdin, cwd: options.cwd ?? fixtures });

/** Feed output back through inject: it must come out byte for byte the same. */
async function assertRoundTrip(output: string, extra: string[] = []): Promise<void> {
  const again = await inject(['-f', '-', ...extra], { stdin: output });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, output);
}

function assertGolden(name: string, actual: string): void {
  const path = join(fixtures, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  assert.equal(actual, readFileSync(path, 'utf8'), `golden file test/golden/inject/${name} (UPDATE_GOLDEN=1 to rewrite)`);
}

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
    subsets?: Array<{ name: string; labels: Record<string, string> }>;
    trafficPolicy?: unknown;
  };
}

/** Every document must parse and be an object kubectl can apply. */
function documents(output: string): Manifest[] {
  const parsed = parseAllDocuments(output);
  assert.ok(Array.isArray(parsed));
  return parsed.flatMap((doc) => {
    assert.deepEqual(doc.errors, []);
    const value = doc.toJS() as Manifest | null;
    if (value === null) return [];
    assert.ok(value.apiVersion && value.kind && value.metadata?.name, JSON.stringify(value));
    return [value];
  });
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'cw-inject-'));

describe('inject', () => {
  it('mutates canary Deployments and accumulates both versions in one new DestinationRule (golden)', async () => {
    const run = await inject(['-f', 'two-versions.yaml']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, 'note: without --cluster, assumed the cluster holds these DestinationRules for shop.default.svc.cluster.local: none\n');
    assertGolden('two-versions.out.yaml', run.stdout);
    const docs = documents(run.stdout);
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata?.name}`), ['Service/shop', 'Deployment/shop-v1', 'DestinationRule/shop', 'Deployment/shop-v2']);
    const [, v1, rule, v2] = docs;
    assert.deepEqual(rule?.spec?.subsets, [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }]);
    assert.equal(rule?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'canary-webhook');
    // The Deployments name no namespace, so neither does the rule, and its host is
    // relative: `kubectl apply -n X` puts both in X and the rule still means X's service.
    assert.equal(rule?.metadata?.namespace, undefined);
    assert.equal((rule?.spec as { host?: string } | undefined)?.host, 'shop');
    for (const [deployment, version] of [[v1, 'v1'], [v2, 'v2']] as const) {
      assert.equal(deployment?.metadata?.labels?.version, version);
      assert.equal(deployment?.spec?.selector?.matchLabels?.version, version);
      assert.equal(deployment?.spec?.template?.metadata?.labels?.['sidecar.istio.io/inject'], 'true');
      assert.equal(deployment?.spec?.template?.metadata?.annotations?.['sidecar.istio.io/inject'], 'true');
    }
    // Comments survive the edit.
    assert.match(run.stdout, /canary-webhook\/enabled: "true" # opt in\n/);
    assert.ok(run.stdout.startsWith('# Two versions of one service'));
  });

  it('round-trips: its output fed back through inject is unchanged', async () => {
    const first = await inject(['-f', 'two-versions.yaml']);
    await assertRoundTrip(first.stdout);
    // The companion's v2 only stands beside the user rule it merges with: that rule must come along.
    const withRule = await inject(['-f', 'two-versions.yaml', '--with', 'shop-rule.yaml']);
    await assertRoundTrip(withRule.stdout, ['--with', join(fixtures, 'shop-rule.yaml')]);
    const appended = await inject(['-f', 'two-versions.yaml', '--with', 'shop-rule.yaml', '--subset-placement', 'append']);
    await assertRoundTrip(appended.stdout, ['--subset-placement', 'append']);
  });

  it('puts the new subset in the companion beside a user rule from --with, never printing the user rule (golden)', async () => {
    const run = await inject(['-f', 'two-versions.yaml', '--with', 'shop-rule.yaml']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /assumed the cluster holds these DestinationRules for shop\.default\.svc\.cluster\.local: default\/shop \(--with\)\n/);
    assertGolden('two-versions.with-rule.companion.out.yaml', run.stdout);
    const docs = documents(run.stdout);
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata?.name}`), ['Service/shop', 'Deployment/shop-v1', 'Deployment/shop-v2', 'DestinationRule/shop-canary-webhook']);
    const companion = docs[3];
    assert.deepEqual(companion?.spec?.subsets, [{ name: 'v2', labels: { version: 'v2' } }]);
    assert.equal(companion?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'canary-webhook');
    assert.equal(companion?.spec?.trafficPolicy, undefined, 'the user rule\'s trafficPolicy wins (it is older)');
    assert.doesNotMatch(run.stdout, /LEAST_REQUEST/);
  });

  it('--subset-placement append: appends to a DestinationRule from --with, keeping its fields and comments (golden)', async () => {
    const run = await inject(['-f', 'two-versions.yaml', '--with', 'shop-rule.yaml', '--subset-placement', 'append']);
    assert.equal(run.code, 0, run.stderr);
    assertGolden('two-versions.with-rule.out.yaml', run.stdout);
    const rule = documents(run.stdout).find((d) => d.kind === 'DestinationRule');
    assert.deepEqual(rule?.spec?.subsets?.map((s) => s.name), ['v1', 'v2']);
    assert.deepEqual(rule?.spec?.trafficPolicy, { loadBalancer: { simple: 'LEAST_REQUEST' } });
    assert.match(run.stdout, /# Maintained by the platform team/);
    assert.match(run.stdout, /simple: LEAST_REQUEST # see runbook/);
  });

  it('leaves a user DestinationRule in the input byte for byte and prints the companion (golden)', async () => {
    const rule = readFileSync(join(fixtures, 'shop-rule.yaml'), 'utf8');
    const input = `${rule}---\n${readFileSync(join(fixtures, 'two-versions.yaml'), 'utf8')}`;
    const run = await inject(['-f', '-'], { stdin: input });
    assert.equal(run.code, 0, run.stderr);
    assertGolden('user-rule-in-input.out.yaml', run.stdout);
    assert.ok(run.stdout.startsWith(`${rule}---\n`), 'the user rule is printed exactly as written');
    const docs = documents(run.stdout);
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata?.name}`), ['DestinationRule/shop', 'Service/shop', 'Deployment/shop-v1', 'Deployment/shop-v2', 'DestinationRule/shop-canary-webhook']);
    assert.deepEqual(docs[4]?.spec?.subsets?.map((s) => s.name), ['v2']);
    await assertRoundTrip(run.stdout);
  });

  it('--subset-placement append: updates a DestinationRule that is in the input where it stands, printing it once', async () => {
    const rule = readFileSync(join(fixtures, 'shop-rule.yaml'), 'utf8');
    const input = `${rule}---\n${readFileSync(join(fixtures, 'two-versions.yaml'), 'utf8')}`;
    const run = await inject(['-f', '-', '--subset-placement', 'append'], { stdin: input });
    assert.equal(run.code, 0, run.stderr);
    const docs = documents(run.stdout);
    assert.deepEqual(docs.map((d) => d.kind), ['DestinationRule', 'Service', 'Deployment', 'Deployment']);
    assert.deepEqual(docs[0]?.spec?.subsets?.map((s) => s.name), ['v1', 'v2']);
    await assertRoundTrip(run.stdout, ['--subset-placement', 'append']);
  });

  it('passes non-canary documents through byte for byte (every Bookinfo sample)', async () => {
    for (const file of readdirSync(corpus).filter((name) => name.endsWith('.yaml'))) {
      const run = await inject(['-f', join(corpus, file)]);
      assert.equal(run.code, 0, file);
      const original = readFileSync(join(corpus, file), 'utf8');
      assert.equal(run.stdout, original.endsWith('\n') ? original : `${original}\n`, file);
    }
    const two = await inject(['-f', join(corpus, 'bookinfo.yaml'), '-f', join(corpus, 'destination-rule-all.yaml')]);
    assert.equal(two.stdout, readFileSync(join(corpus, 'bookinfo.yaml'), 'utf8') + readFileSync(join(corpus, 'destination-rule-all.yaml'), 'utf8'));
  });

  it('gives the new DestinationRule the Deployment\'s namespace when it names one', async () => {
    const input = readFileSync(join(fixtures, 'two-versions.yaml'), 'utf8').replace(/name: shop-v(\d)\n/g, 'name: shop-v$1\n  namespace: prod\n');
    const run = await inject(['-f', '-'], { stdin: input });
    const rule = documents(run.stdout).find((d) => d.kind === 'DestinationRule');
    assert.equal(rule?.metadata?.namespace, 'prod');
    assert.equal((rule?.spec as { host?: string } | undefined)?.host, 'shop.prod.svc.cluster.local');
  });

  it('edits a canary Deployment inside a List and prints the rule after the List', async () => {
    const input = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [{
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api-v3', labels: { app: 'api', 'canary-webhook/enabled': 'true', version: 'v3' } },
        spec: { selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api', version: 'v3' } }, spec: { containers: [{ name: 'api', image: 'api:3' }] } } },
      }],
    });
    const run = await inject(['-f', '-'], { stdin: input });
    assert.equal(run.code, 0, run.stderr);
    const [list, rule] = parseAllDocuments(run.stdout) as unknown as Array<{ toJS(): { kind: string; items?: Manifest[]; spec?: Manifest['spec'] } }>;
    assert.equal(list?.toJS().kind, 'List');
    assert.equal(list?.toJS().items?.[0]?.spec?.selector?.matchLabels?.version, 'v3');
    assert.deepEqual(rule?.toJS().spec?.subsets, [{ name: 'v3', labels: { version: 'v3' } }]);
    // JSON in, block YAML out for the edited document.
    assert.match(run.stdout, /^apiVersion: v1\nkind: List\nitems:\n/);
    await assertRoundTrip(run.stdout);
  });

  it('exits 1 on a Deployment the webhook would deny, printing nothing on stdout', async () => {
    // Two explicit version sources that disagree: Deployment label v2, annotation v9.
    const input = readFileSync(join(fixtures, 'two-versions.yaml'), 'utf8')
      .replace('  annotations:\n    canary-webhook/version: v2\n', '    version: v2\n  annotations:\n    canary-webhook/version: v9\n');
    const run = await inject(['-f', '-'], { stdin: input });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    // Document 3 starts on line 36: a whole-object finding points at its first line.
    assert.match(run.stderr, /^<stdin>:36:1: Deployment default\/shop-v2: .*v2.*v9|^<stdin>:36:1: Deployment default\/shop-v2: .*v9.*v2/m);
  });

  it('exits 2 on unparsable input, printing nothing on stdout', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: ConfigMap\ndata: {a: [\n');
    const run = await inject(['-f', 'bad.yaml', '-f', join(fixtures, 'two-versions.yaml')], { cwd: dir });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^bad\.yaml:\d+:\d+: document 1 is not valid YAML: /);
  });

  it('warns on stderr and still prints when the user turned the sidecar off', async () => {
    const input = readFileSync(join(fixtures, 'two-versions.yaml'), 'utf8').replace('        version: v1\n', '        version: v1\n        sidecar.istio.io/inject: "false"\n');
    const run = await inject(['-f', '-'], { stdin: input });
    assert.equal(run.code, 0);
    assert.match(run.stderr, /^<stdin>:14:1: warning: Deployment default\/shop-v1: sidecar\.istio\.io\/inject is "false"/);
    assert.match(run.stdout, /sidecar\.istio\.io\/inject: "false"/);
  });

  it('reads Namespace objects from its input: an ambient namespace gets no sidecar, and the round trip holds', async () => {
    const input = [
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mesh\n  labels:\n    istio.io/dataplane-mode: ambient\n',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop-v1\n  namespace: mesh\n  labels:\n    app: shop\n    canary-webhook/enabled: "true"\n' +
        'spec:\n  selector:\n    matchLabels:\n      app: shop\n  template:\n    metadata:\n      labels:\n        app: shop\n        version: v1\n' +
        '    spec:\n      containers:\n      - name: shop\n        image: shop:1\n',
    ].join('---\n');
    const run = await inject(['-f', '-'], { stdin: input });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /sidecar\.istio\.io\/inject/);
    assert.match(run.stderr, /warning: Deployment mesh\/shop-v1: namespace "mesh" is ambient: no sidecar added for version "v1"/);
    await assertRoundTrip(run.stdout);
  });

  it('--istio-revision labels the template istio.io/rev; a value that is not a label value exits 2', async () => {
    const run = await inject(['-f', 'two-versions.yaml', '--istio-revision', '1-24-0']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /istio\.io\/rev: 1-24-0/);
    assert.doesNotMatch(run.stdout, /sidecar\.istio\.io\/inject/);
    await assertRoundTrip(run.stdout, ['--istio-revision', '1-24-0']);
    const bad = await inject(['-f', 'two-versions.yaml', '--istio-revision=no/slash']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--istio-revision must be a label value/);
  });

  it('exits 2 without input and prints help with an example', async () => {
    assert.equal((await inject([])).code, 2);
    const help = await inject(['-h']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:\n {2}canary-webhook inject -f /);
  });

  it('works as a pipe in a child process', async () => {
    const child = execFile(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), 'inject', '-f', '-'], { cwd: repo });
    child.stdin?.end(readFileSync(join(fixtures, 'two-versions.yaml')));
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.equal(stdout, readFileSync(join(fixtures, 'two-versions.out.yaml'), 'utf8'));
  });
});

describe('inject --cluster', () => {
  const apiserver = new FakeApiServer();
  let kubeconfig: string;
  before(async () => {
    await apiserver.start();
    // A Git-managed rule: what Argo CD would keep putting back.
    apiserver.put('destinationrules', {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'shop', namespace: 'default', labels: { 'argocd.argoproj.io/instance': 'shop' } },
      spec: { host: 'shop', exportTo: ['.'], trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
    });
    kubeconfig = apiserver.writeKubeconfig(join(tmp(), 'kubeconfig'));
  });
  after(() => apiserver.stop());

  it('starts from the cluster\'s rules: the companion copies the user rule\'s exportTo, the user rule is not printed', async () => {
    const run = await inject(['-f', 'two-versions.yaml', '--cluster', '--kubeconfig', kubeconfig]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'no assumption to note: the cluster was read');
    const docs = documents(run.stdout);
    assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata?.name}`), ['Service/shop', 'Deployment/shop-v1', 'Deployment/shop-v2', 'DestinationRule/shop-canary-webhook']);
    const companion = docs[3] as Manifest & { spec: { exportTo?: string[]; host?: string } };
    assert.deepEqual(companion.spec.exportTo, ['.']);
    assert.deepEqual(companion.spec.subsets, [{ name: 'v2', labels: { version: 'v2' } }]);
    assert.equal(apiserver.requests.filter((r) => r.method !== 'GET').length, 0, 'inject only reads the cluster');
  });

  it('--kubeconfig alone implies --cluster; an unreadable cluster prints nothing and exits 2', async () => {
    const run = await inject(['-f', 'two-versions.yaml', '--kubeconfig', join(tmp(), 'missing')]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^--cluster: cannot read DestinationRules from the cluster: /);
  });
});
