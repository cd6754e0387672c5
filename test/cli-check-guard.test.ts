// `check --cluster` applies the guard: a DestinationRule in a pull request
// that drops a subset a VirtualService in the cluster still routes to fails
// the check, with the guard's own text.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCheck } from '../src/cli/check.js';
import { runCaptured } from './support/cli-run.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { virtualService } from './support/guard-fixtures.js';
import { rule } from './support/kube-fixtures.js';

describe('check --cluster: DestinationRules that would break the cluster\'s routes', () => {
  const apiserver = new FakeApiServer();
  let dir: string;
  let kubeconfig: string;

  before(async () => {
    await apiserver.start();
    apiserver.put('destinationrules', rule('shop', 'reviews', 'reviews', ['v1', 'v2']));
    apiserver.put('virtualservices', virtualService('shop', 'reviews', 'reviews', [{ subset: 'v1', weight: 90 }, { subset: 'v2', weight: 10 }]));
    dir = mkdtempSync(join(tmpdir(), 'check-guard-'));
    kubeconfig = apiserver.writeKubeconfig(join(dir, 'kubeconfig'));
  });
  after(() => apiserver.stop());

  const check = async (files: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return runCaptured(runCheck, ['-f', ...Object.keys(files).flatMap((name, i) => (i === 0 ? [name] : ['-f', name])), '--cluster', '--kubeconfig', kubeconfig], { cwd: dir });
  };
  const ruleYaml = (subsets: string[]): string =>
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: shop\nspec:\n  host: reviews\n  subsets:\n${subsets.map((s) => `  - name: ${s}\n    labels: {version: ${s}}\n`).join('')}`;

  it('fails a DestinationRule that drops a subset the cluster still routes to', async () => {
    const run = await check({ 'dr.yaml': ruleYaml(['v1']) });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.ok(
      run.stdout.includes('subset "v2" is still routed by VirtualService shop/reviews (spec.http[0].route[1], weight 10); shift its traffic and remove the reference first'),
      run.stdout,
    );
    assert.match(run.stdout, /dr\.yaml:1\S*: DestinationRule shop\/reviews: /);
  });

  it('passes when the same input also moves the traffic off the subset', async () => {
    const vs = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\n  namespace: shop\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 100\n`;
    const run = await check({ 'dr.yaml': ruleYaml(['v1']), 'vs.yaml': vs });
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });

  it('passes a DestinationRule that only adds subsets', async () => {
    const run = await check({ 'dr.yaml': ruleYaml(['v1', 'v2', 'v3']) });
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });
});
