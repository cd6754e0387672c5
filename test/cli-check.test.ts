// `canary-webhook check`: exit codes, output format, inputs, and Istio's own
// Bookinfo samples checked file by file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCheck } from '../src/cli/check.js';
import { runCli } from '../src/cli/dispatch.js';
import type { Finding } from '../src/cli/findings.js';
import { runCaptured, type CapturedRun, type RunOptions } from './support/cli-run.js';
import { FakeApiServer } from './support/fake-apiserver.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const corpus = fileURLToPath(new URL('../../shared/corpus/istio-samples/', import.meta.url));
const golden = (name: string): string => fileURLToPath(new URL(`./golden/${name}`, import.meta.url));

const check = (argv: string[], options: RunOptions = {}): Promise<CapturedRun> => runCaptured(runCheck, argv, { ...options, cwd: options.cwd ?? corpus });

/** Compare with a golden file; UPDATE_GOLDEN=1 rewrites it. */
function assertGolden(name: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden(name), actual);
  assert.equal(actual, readFileSync(golden(name), 'utf8'), `golden file test/golden/${name} (UPDATE_GOLDEN=1 to rewrite)`);
}

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cw-check-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const findingLines = (stdout: string): string[] => stdout.trimEnd().split('\n').slice(0, -1);

function virtualService(name: string, route: string, namespace?: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}${namespace ? `\n  namespace: ${namespace}` : ''}
spec:
  hosts: [${name}]
  http:
  - route:
${route}`;
}

const destination = (host: string, subset: string, weight?: number): string =>
  `    - destination: {host: ${host}, subset: ${subset}}${weight === undefined ? '' : `\n      weight: ${weight}`}\n`;

function canaryDeployment(name: string, app: string, version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: {app: ${app}, canary-webhook/enabled: "true"}
spec:
  selector:
    matchLabels: {app: ${app}}
  template:
    metadata:
      labels: {app: ${app}, version: ${version}}
    spec:
      containers:
      - {name: app, image: "example.com/${app}:1.0"}
`;
}

describe('check on the Istio Bookinfo samples', () => {
  const samples = readdirSync(corpus).filter((file) => file.endsWith('.yaml') && !file.startsWith('destination-rule-'));

  it('with destination-rule-all.yaml, every sample passes', async () => {
    for (const file of samples) {
      const run = await check(['-f', 'destination-rule-all.yaml', '-f', file]);
      assert.equal(run.code, 0, `${file}: ${run.stdout}${run.stderr}`);
      assert.equal(run.stderr, '', file);
      const lines = findingLines(run.stdout);
      if (file === 'fault-injection-details-v1.yaml') {
        // It brings its own DestinationRule "details", which replaces the one in destination-rule-all.yaml.
        assert.deepEqual(lines, [
          'fault-injection-details-v1.yaml:23:1: warning: DestinationRule default/details: ' +
            'also defined at destination-rule-all.yaml:49; this later definition is the one checked against',
        ]);
      } else {
        assert.deepEqual(lines, [], file);
      }
    }
  });

  it('with only destination-rule-reviews.yaml, routes to the other services\' subsets are denied', async () => {
    // file → [doc, VirtualService, path, subset, host] of every denial
    const denied: Record<string, Array<[number, string, string, string, string]>> = {
      'virtual-service-all-v1.yaml': [
        [1, 'productpage', 'spec.http[0].route[0]', 'v1', 'productpage'],
        [3, 'ratings', 'spec.http[0].route[0]', 'v1', 'ratings'],
        [4, 'details', 'spec.http[0].route[0]', 'v1', 'details'],
      ],
      'virtual-service-details-v2.yaml': [[1, 'details', 'spec.http[0].route[0]', 'v2', 'details']],
      'virtual-service-ratings-db.yaml': [[2, 'ratings', 'spec.http[0].route[0]', 'v2', 'ratings']],
      'virtual-service-ratings-mysql.yaml': [[2, 'ratings', 'spec.http[0].route[0]', 'v2-mysql', 'ratings']],
      'virtual-service-ratings-mysql-vm.yaml': [[2, 'ratings', 'spec.http[0].route[0]', 'v2-mysql-vm', 'ratings']],
      'virtual-service-ratings-test-abort.yaml': [
        [1, 'ratings', 'spec.http[0].route[0]', 'v1', 'ratings'],
        [1, 'ratings', 'spec.http[1].route[0]', 'v1', 'ratings'],
      ],
      'virtual-service-ratings-test-delay.yaml': [
        [1, 'ratings', 'spec.http[0].route[0]', 'v1', 'ratings'],
        [1, 'ratings', 'spec.http[1].route[0]', 'v1', 'ratings'],
      ],
    };
    for (const file of samples) {
      const run = await check(['-f', 'destination-rule-reviews.yaml', '-f', file, '-o', 'json']);
      const findings = JSON.parse(run.stdout) as Finding[];
      const expected = denied[file] ?? [];
      assert.equal(run.code, expected.length > 0 ? 1 : 0, `${file}: ${run.stdout}`);
      assert.deepEqual(findings.map((f) => [f.doc, f.name, f.path]), expected.map(([doc, name, path]) => [doc, name, path]), file);
      findings.forEach((finding, i) => {
        const [, , , subset, service] = expected[i]!;
        assert.equal(finding.severity, 'error');
        assert.equal(finding.kind, 'VirtualService');
        assert.match(finding.message, new RegExp(`^subset "${subset}" of host ${service}\\.default\\.svc\\.cluster\\.local is not defined; `));
      });
    }
  });

  it('prints one line per problem and a summary (golden)', async () => {
    const run = await check(['-f', 'destination-rule-reviews.yaml', '-f', 'virtual-service-all-v1.yaml', '-f', 'virtual-service-reviews-v3.yaml']);
    assert.equal(run.code, 1);
    assertGolden('check-reviews-only.txt', run.stdout);
  });

  it('prints JSON findings with -o json (golden)', async () => {
    const run = await check(['-f', 'destination-rule-reviews.yaml', '-f', 'virtual-service-ratings-test-abort.yaml', '-o', 'json']);
    assert.equal(run.code, 1);
    assertGolden('check-reviews-only.json', run.stdout);
  });

  it('checks the whole folder as kubectl apply -f would apply it: later DestinationRules replace earlier ones (golden)', async () => {
    const run = await check(['-f', '.']);
    assert.equal(run.code, 1);
    assertGolden('check-corpus-folder.txt', run.stdout);
  });
});

describe('check exit codes and output', () => {
  it('exits 1 on bad weights, naming file, line, column, object and path', async () => {
    const root = tree({ 'vs.yaml': `---\n${virtualService('reviews', destination('reviews', 'v1', 90) + destination('reviews', 'v2', 5))}` });
    const run = await check(['-f', 'vs.yaml'], { cwd: root });
    assert.equal(run.code, 1);
    assert.deepEqual(findingLines(run.stdout), [
      'vs.yaml:9:5: VirtualService default/reviews: spec.http[0].route: weights sum to 95, must be 100',
      'vs.yaml:10:7: VirtualService default/reviews: spec.http[0].route[0]: subset "v1" of host reviews.default.svc.cluster.local is not defined; ' +
        'no DestinationRule visible from namespace default defines subsets for host reviews.default.svc.cluster.local; ' +
        'create one in namespace default for that host with a subset named "v1"',
      'vs.yaml:12:7: VirtualService default/reviews: spec.http[0].route[1]: subset "v2" of host reviews.default.svc.cluster.local is not defined; ' +
        'no DestinationRule visible from namespace default defines subsets for host reviews.default.svc.cluster.local; ' +
        'create one in namespace default for that host with a subset named "v2"',
    ]);
  });

  it('takes --weight-policy: proportional admits 30/30 with a warning and still denies 0/0', async () => {
    const root = tree({
      'split.yaml': virtualService('web', '    - destination: {host: web}\n      weight: 30\n    - destination: {host: web-canary}\n      weight: 30\n'),
      'zero.yaml': virtualService('api', '    - destination: {host: api}\n    - destination: {host: api-canary}\n'),
    });
    const split = await check(['split.yaml', '--weight-policy', 'proportional'], { cwd: root });
    assert.equal(split.code, 0, split.stdout);
    assert.deepEqual(findingLines(split.stdout), [
      'split.yaml:8:5: warning: VirtualService default/web: spec.http[0].route: weights sum to 60, not 100; each destination gets weight/60 of traffic',
    ]);
    assert.equal((await check(['split.yaml'], { cwd: root })).code, 1, 'sum-100 stays the default');
    const zero = await check(['zero.yaml', '--weight-policy=proportional'], { cwd: root });
    assert.equal(zero.code, 1);
    assert.match(zero.stdout, /spec\.http\[0\]\.route: weights sum to 0; Istio refuses a route whose destinations all have weight 0; no destination of this route has a weight$/m);
    const bad = await check(['zero.yaml', '--weight-policy', 'loose'], { cwd: root });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--weight-policy must be sum-100 or proportional, got "loose"/);
  });

  it('exits 0 with warnings only, marking them', async () => {
    const root = tree({ 'vs.yaml': virtualService('web', '    - destination: {host: web}\n      weight: 50\n') });
    const run = await check(['vs.yaml'], { cwd: root });
    assert.equal(run.code, 0);
    assert.deepEqual(findingLines(run.stdout), [
      'vs.yaml:9:7: warning: VirtualService default/web: spec.http[0].route[0]: weight 50 on the only destination; it still gets 100% of traffic',
    ]);
    assert.equal(run.stdout.trimEnd().split('\n').at(-1), '0 errors, 1 warning: checked 1 VirtualService and 0 canary Deployments against 0 DestinationRules (1 document in 1 file)');
  });

  it('reads stdin with -f -', async () => {
    const run = await check(['-f', '-', '-f', 'destination-rule-all.yaml'], { stdin: readFileSync(join(corpus, 'virtual-service-reviews-90-10.yaml'), 'utf8') });
    assert.equal(run.code, 0, run.stdout);
    const bad = await check(['-f', '-'], { stdin: readFileSync(join(corpus, 'virtual-service-reviews-90-10.yaml'), 'utf8') });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^<stdin>:10:7: VirtualService default\/reviews: spec\.http\[0\]\.route\[0\]: subset "v1"/);
  });

  it('exits 2 on a broken YAML document, naming file and line, and still checks everything else', async () => {
    const root = tree({
      'a-broken.yaml': `${virtualService('ok', destination('ok', 'v1'))}---\napiVersion: v1\nkind: ConfigMap\ndata:\n  key: [unclosed\n`,
      'b-bad.yaml': virtualService('bad', destination('bad', 'v1', 60) + destination('bad', 'v1', 60)),
    });
    const run = await check(['-f', '.'], { cwd: root });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^a-broken\.yaml:15:1: document 2 is not valid YAML: Flow sequence/);
    assert.match(run.stdout, /^a-broken\.yaml:9:7: VirtualService default\/ok: spec\.http\[0\]\.route\[0\]: subset "v1"/m);
    assert.match(run.stdout, /^b-bad\.yaml:8:5: VirtualService default\/bad: spec\.http\[0\]\.route: weights sum to 120, must be 100$/m);
    assert.match(run.stdout, /, 1 input error: checked 2 VirtualServices/);
  });

  it('exits 2 on a missing file and on objects without apiVersion, with JSON findings too', async () => {
    const root = tree({ 'junk.yaml': 'kind: Service\nmetadata: {name: x}\n' });
    const run = await check(['-f', 'missing.yaml', '-f', 'junk.yaml', '-o', 'json'], { cwd: root });
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'missing.yaml: cannot read: no such file or folder\njunk.yaml:1: document 1 has no apiVersion or kind\n');
    const findings = JSON.parse(run.stdout) as Finding[];
    assert.deepEqual(findings.map((f) => [f.file, f.doc, f.line, f.kind, f.severity]), [
      ['missing.yaml', null, null, null, 'error'],
      ['junk.yaml', 1, 1, null, 'error'],
    ]);
  });

  it('flattens List kinds and points into the list', async () => {
    const list = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1beta1
  kind: VirtualServiceList
  items:
  - apiVersion: networking.istio.io/v1beta1
    kind: VirtualService
    metadata: {name: a}
    spec:
      hosts: [a]
      http:
      - route:
        - destination: {host: a}
          weight: 50
        - destination: {host: a}
          weight: 40
`;
    const root = tree({ 'list.yaml': list });
    const run = await check(['-f', 'list.yaml', '-o', 'json'], { cwd: root });
    const findings = JSON.parse(run.stdout) as Finding[];
    assert.equal(run.code, 1);
    assert.equal(findings[0]?.path, 'items[0].items[0].spec.http[0].route');
    assert.equal(findings[0]?.message, 'weights sum to 90, must be 100');
    // The `route:` key of the inner VirtualService, where an editor should jump.
    assert.deepEqual([findings[0]?.line, findings[0]?.column], [13, 9]);
  });

  it('counts the subsets the webhook would add for canary Deployments in the input', async () => {
    const root = tree({
      'deploy.yaml': `${canaryDeployment('shop-v1', 'shop', 'v1')}---\n${canaryDeployment('shop-v2', 'shop', 'v2')}`,
      'vs-ok.yaml': virtualService('shop', destination('shop', 'v1', 90) + destination('shop', 'v2', 10)),
      'vs-v3.yaml': virtualService('shop', destination('shop', 'v1', 90) + destination('shop', 'v3', 10)),
    });
    assert.equal((await check(['-f', 'deploy.yaml', '-f', 'vs-ok.yaml'], { cwd: root })).code, 0);
    const run = await check(['-f', 'deploy.yaml', '-f', 'vs-v3.yaml'], { cwd: root });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /vs-v3\.yaml:11:7: VirtualService default\/shop: spec\.http\[0\]\.route\[1\]: subset "v3" of host shop\.default\.svc\.cluster\.local is not defined; DestinationRule default\/shop defines v1, v2\n/);
    assert.match(run.stdout, /checked 1 VirtualService and 2 canary Deployments/);
  });

  it('reports a canary Deployment the webhook would deny', async () => {
    const root = tree({ 'deploy.yaml': canaryDeployment('x', 'shop', 'v1').replace(/app: shop, /g, '') });
    const run = await check(['-f', 'deploy.yaml'], { cwd: root });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^deploy\.yaml:1:1: Deployment default\/x: a canary Deployment needs a service name/);
  });

  it('puts objects without a namespace in --namespace', async () => {
    const rule = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: prod}\n' +
      'spec:\n  host: web\n  exportTo: ["."]\n  subsets: [{name: v1, labels: {version: v1}}]\n';
    const root = tree({ 'all.yaml': `${rule}---\n${virtualService('web', destination('web.prod.svc.cluster.local', 'v1'))}` });
    assert.equal((await check(['-f', 'all.yaml', '-n', 'prod'], { cwd: root })).code, 0);
    const elsewhere = await check(['-f', 'all.yaml'], { cwd: root });
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stdout, /exportTo does not include namespace default/);
  });

  it('exits 2 on bad flags, printing usage hints on stderr', async () => {
    for (const argv of [[], ['-f', 'x.yaml', '-o', 'yaml'], ['-f', 'x.yaml', '--bogus'], ['-f', 'x.yaml', '-n', 'Bad_NS'], ['-f', 'x.yaml', '--kubeconfig', 'k']]) {
      const run = await check(argv);
      assert.equal(run.code, 2, argv.join(' '));
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^canary-webhook check: .*\nRun 'canary-webhook check --help' for usage\.\n$/);
    }
  });

  it('prints help with an example', async () => {
    const run = await check(['--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: canary-webhook check -f PATH\.\.\./);
    assert.match(run.stdout, /Examples:\n {2}canary-webhook check -f /);
  });
});

describe('check --cluster', () => {
  const apiserver = new FakeApiServer();
  let kubeconfig: string;
  before(async () => {
    await apiserver.start();
    apiserver.put('destinationrules', {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: 'default' },
      spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
    });
    kubeconfig = apiserver.writeKubeconfig(join(tree({}), 'kubeconfig'));
  });
  after(() => apiserver.stop());

  it('uses the cluster\'s DestinationRules as well as the input\'s', async () => {
    const run = await check(['-f', 'virtual-service-reviews-80-20.yaml', '--cluster', '--kubeconfig', kubeconfig]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /against 1 DestinationRule /);
    const v3 = await check(['-f', 'virtual-service-reviews-v2-v3.yaml', '--cluster', '--kubeconfig', kubeconfig]);
    assert.equal(v3.code, 1);
    assert.match(v3.stdout, /subset "v3" of host reviews\.default\.svc\.cluster\.local is not defined; DestinationRule default\/reviews defines v1, v2/);
  });

  it('lets a DestinationRule in the input replace the cluster\'s (it is what will be applied)', async () => {
    const run = await check(['-f', 'destination-rule-reviews.yaml', '-f', 'virtual-service-reviews-v2-v3.yaml', '--cluster', '--kubeconfig', kubeconfig]);
    assert.equal(run.code, 0, run.stdout);
  });

  it('exits 2 when the cluster cannot be read', async () => {
    const run = await check(['-f', 'virtual-service-reviews-v3.yaml', '--cluster', '--kubeconfig', join(repo, 'no-such-kubeconfig')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^--cluster: cannot read DestinationRules from the cluster: .*no-such-kubeconfig: no such file\n$/);
  });
});

describe('the canary-webhook binary', () => {
  it('runs check in a child process with the documented exit code and output', async () => {
    const main = join(repo, 'src/cli/main.ts');
    const args = ['--import', 'tsx', main, 'check', '-f', join(corpus, 'destination-rule-reviews.yaml'), '-f', join(corpus, 'virtual-service-details-v2.yaml')];
    const result = await promisify(execFile)(process.execPath, args, { cwd: repo }).then(
      (done) => ({ code: 0, stdout: done.stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    assert.equal(result.code, 1);
    assert.match(result.stdout, /virtual-service-details-v2\.yaml:10:7: VirtualService default\/details: spec\.http\[0\]\.route\[0\]: subset "v2" of host details\.default\.svc\.cluster\.local is not defined/);
  });

  it('answers --version and -v, help, and an unknown command or flag with one line and a pointer to --help', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, stdin: Readable.from([]), cwd: repo };
    assert.equal(await runCli(['--version'], io), 0);
    const version = `${(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version}\n`;
    assert.equal(out.pop(), version);
    assert.equal(await runCli(['-v'], io), 0);
    assert.equal(out.pop(), version);
    assert.equal(await runCli(['help', 'inject'], io), 0);
    assert.match(out.pop() ?? '', /^Usage: canary-webhook inject/);
    assert.equal(await runCli(['--help'], io), 0);
    assert.match(out.pop() ?? '', /canary-webhook check -f PATH/);
    assert.equal(await runCli(['frobnicate'], io), 2);
    assert.equal(err.pop(), 'canary-webhook: unknown command "frobnicate"\nRun \'canary-webhook --help\' for usage.\n');
    assert.equal(await runCli(['--verbose'], io), 2);
    assert.equal(err.pop(), 'canary-webhook: unknown flag "--verbose"\nRun \'canary-webhook --help\' for usage.\n');
    assert.equal(await runCli([], io), 2);
  });
});

describe('serve flag errors', () => {
  const serve = (argv: string[], env: NodeJS.ProcessEnv = {}) => promisify(execFile)(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), 'serve', ...argv], {
    cwd: repo,
    env: { PATH: process.env.PATH, ...env },
  }).then(
    (done) => ({ code: 0, stderr: done.stderr }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );

  it('prints one error line and a pointer to --help, not the whole usage', async () => {
    const run = await serve(['--bogus']);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'canary-webhook serve: Unknown option \'--bogus\'\nRun \'canary-webhook serve --help\' for usage.\n');
  });

  it('blames the environment variable that holds a bad value, not the flag', async () => {
    const run = await serve([], { CANARY_WEBHOOK_PORT: 'abc' });
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'canary-webhook serve: CANARY_WEBHOOK_PORT must be an integer from 0 to 65535, got "abc"\nRun \'canary-webhook serve --help\' for usage.\n');
  });
});

describe('check in CI', () => {
  it('gives the real line and column of each finding in a multi-document file, and in JSON input', async () => {
    const good = virtualService('a', destination('a', 'v1', 100));
    const bad = virtualService('b', destination('b', 'v1', 70) + destination('b', 'v2', 20));
    const json = JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'c' }, spec: { hosts: ['c'], http: [{ route: [{ destination: { host: 'c' }, weight: 50 }, { destination: { host: 'c' }, weight: 40 }] }] } }, null, 2);
    const root = tree({ 'multi.yaml': `${good}---\n# a comment\n${bad}`, 'c.json': json });
    const run = await check(['multi.yaml', 'c.json'], { cwd: root });
    assert.equal(run.code, 1);
    const lines = findingLines(run.stdout);
    // multi.yaml: document 2 starts on line 13 (after 10 lines, `---` and a comment); its `route:` key is line 20, column 5.
    assert.ok(lines.includes('multi.yaml:20:5: VirtualService default/b: spec.http[0].route: weights sum to 90, must be 100'), lines.join('\n'));
    const textLines = readFileSync(join(root, 'multi.yaml'), 'utf8').split('\n');
    assert.equal(textLines[19]?.slice(4, 10), 'route:');
    const jsonFinding = lines.find((line) => line.startsWith('c.json:'));
    assert.match(jsonFinding ?? '', /^c\.json:(\d+):(\d+): VirtualService default\/c: spec\.http\[0\]\.route: weights sum to 90/);
    const [, line, column] = /^c\.json:(\d+):(\d+)/.exec(jsonFinding ?? '') ?? [];
    assert.equal(json.split('\n')[Number(line) - 1]?.slice(Number(column) - 1).startsWith('"route"'), true);
  });

  it('prints GitHub Actions annotations with -o github, escaping what the runner would misread', async () => {
    const root = tree({ 'vs.yaml': virtualService('reviews', destination('reviews', 'v1', 90) + destination('reviews', 'v2', 5)), 'rule.yaml': 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n' });
    const run = await check(['-f', '.', '-o', 'github'], { cwd: root });
    assert.equal(run.code, 1);
    const lines = run.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, -1), [
      '::error file=vs.yaml,line=8,col=5,title=VirtualService default/reviews::spec.http[0].route: weights sum to 95, must be 100',
    ]);
    assert.match(lines.at(-1) ?? '', /^1 error, 0 warnings: checked 1 VirtualService/);

    const odd = tree({ 'a,b:c.yaml': virtualService('web', '    - destination: {host: web}\n      weight: 50\n') });
    const warning = await check(['-f', '.', '-o', 'github'], { cwd: odd });
    assert.equal(warning.code, 0);
    assert.equal(warning.stdout.split('\n')[0], '::warning file=a%2Cb%3Ac.yaml,line=9,col=7,title=VirtualService default/web::spec.http[0].route[0]: weight 50 on the only destination; it still gets 100%25 of traffic');
  });

  it('walks a repository without node_modules and hidden folders, and skips values.yaml with a note', async () => {
    const root = tree({
      'k8s/vs.yaml': virtualService('web', destination('web', 'v1', 100)),
      'k8s/rule.yaml': 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web}\nspec:\n  host: web\n  subsets: [{name: v1, labels: {version: v1}}]\n',
      'chart/values.yaml': 'replicaCount: 2\nimage:\n  tag: v1\n',
      '.github/workflows/ci.yaml': 'on: push\njobs: {}\n',
      'node_modules/some-lib/bad.yaml': virtualService('lib', destination('lib', 'v9', 100)),
      '.git/junk.yaml': 'kind: [\n',
    });
    const run = await check(['-f', '.'], { cwd: root });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stderr, 'chart/values.yaml:1:1: note: document 1 is not a Kubernetes object (no apiVersion and kind); skipped\n');
    assert.match(run.stdout, /checked 1 VirtualService and 0 canary Deployments against 1 DestinationRule \(3 documents in 3 files\)\n$/);

    const strict = await check(['-f', '.', '--strict'], { cwd: root });
    assert.equal(strict.code, 2);
    assert.equal(strict.stderr, 'chart/values.yaml:1:1: document 1 is not a Kubernetes object (no apiVersion and kind) (--strict)\n');
  });
});
