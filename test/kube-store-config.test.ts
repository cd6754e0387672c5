// Where the cluster config comes from: --kubeconfig, the pod's service
// account, KUBECONFIG, ~/.kube/config, or nowhere (standalone).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { loadKubeConfig } from '../src/store/kube/config.js';
import { FakeApiServer } from './support/fake-apiserver.js';

const root = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

function kubeconfigFile(name: string, server: string, context = name): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: ${name}, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
      `users: [{name: ${name}, user: {token: token-${name}}}]`,
      `contexts: [{name: ${context}, context: {cluster: ${name}, user: ${name}}}]`,
      `current-context: ${context}`,
    ].join('\n'),
  );
  return file;
}

function serviceAccountDir(): string {
  const dir = mkdtempSync(join(root, 'sa-'));
  writeFileSync(join(dir, 'token'), 'sa-token');
  writeFileSync(join(dir, 'ca.crt'), '');
  return dir;
}

const emptyHome = (): string => mkdtempSync(join(root, 'home-'));

describe('loadKubeConfig', () => {
  it('uses --kubeconfig first, even inside a pod', () => {
    const file = kubeconfigFile('explicit', 'https://explicit.example:6443');
    const loaded = loadKubeConfig({ kubeconfigPath: file, env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountDir: serviceAccountDir() });
    assert.equal(loaded?.source, 'kubeconfig');
    assert.equal(loaded?.kubeConfig.getCurrentCluster()?.server, 'https://explicit.example:6443');
  });

  it('fails loudly when --kubeconfig names a missing file', () => {
    assert.throws(() => loadKubeConfig({ kubeconfigPath: join(root, 'nope.yaml'), env: {} }), /nope\.yaml: no such file/);
  });

  it('uses the service account inside a pod', () => {
    const dir = serviceAccountDir();
    const loaded = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', KUBECONFIG: kubeconfigFile('ignored', 'https://x') }, serviceAccountDir: dir, homeDir: emptyHome() });
    assert.equal(loaded?.source, 'in-cluster');
    assert.equal(loaded?.kubeConfig.getCurrentCluster()?.server, 'https://[fd00::1]:443');
    assert.equal(loaded?.kubeConfig.getCurrentUser()?.authProvider?.config?.tokenFile, join(dir, 'token'));
  });

  it('needs both the token and KUBERNETES_SERVICE_HOST to call it in-cluster', () => {
    assert.equal(loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountDir: join(root, 'missing'), homeDir: emptyHome() }), undefined);
    assert.equal(loadKubeConfig({ env: {}, serviceAccountDir: serviceAccountDir(), homeDir: emptyHome() }), undefined);
  });

  it('merges the files of KUBECONFIG, the first one choosing the context', () => {
    const first = kubeconfigFile('first', 'https://first.example');
    const second = kubeconfigFile('second', 'https://second.example');
    const loaded = loadKubeConfig({ env: { KUBECONFIG: [first, join(root, 'absent.yaml'), second].join(delimiter) }, serviceAccountDir: join(root, 'missing'), homeDir: emptyHome() });
    assert.equal(loaded?.source, 'kubeconfig');
    assert.equal(loaded?.kubeConfig.getCurrentCluster()?.server, 'https://first.example');
    assert.deepEqual(loaded?.kubeConfig.getClusters().map((c) => c.name), ['first', 'second']);
  });

  it('falls back to ~/.kube/config, else to nothing (standalone)', () => {
    const home = emptyHome();
    assert.equal(loadKubeConfig({ env: {}, serviceAccountDir: join(root, 'missing'), homeDir: home }), undefined);
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), `apiVersion: v1
kind: Config
clusters: [{name: home, cluster: {server: "https://home.example"}}]
users: [{name: home, user: {}}]
contexts: [{name: home, context: {cluster: home, user: home}}]
current-context: home
`);
    assert.equal(loadKubeConfig({ env: {}, serviceAccountDir: join(root, 'missing'), homeDir: home })?.kubeConfig.getCurrentCluster()?.server, 'https://home.example');
  });

  it('rejects a kubeconfig without a current context', () => {
    const file = join(root, 'no-context.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
    assert.throws(() => loadKubeConfig({ kubeconfigPath: file, env: {} }), /no current context/);
  });

  it('produces a config the client can talk through (token sent)', async () => {
    const fake = new FakeApiServer();
    await fake.start();
    try {
      const loaded = loadKubeConfig({ kubeconfigPath: kubeconfigFile('fake', fake.url), env: {} })!;
      const api = loaded.kubeConfig.makeApiClient(CustomObjectsApi);
      await api.listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: 'default', plural: 'destinationrules' });
      assert.equal(fake.requests.length, 1);
      assert.equal(fake.requests[0]!.authorization, 'Bearer token-fake');
    } finally {
      await fake.stop();
    }
  });
});
