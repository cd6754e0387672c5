// Where the cluster is: an explicit --kubeconfig, else the pod's service
// account, else $KUBECONFIG, else ~/.kube/config; none → standalone. The
// order is controller-runtime's (an explicit flag beats the ambient pod
// config; ambient beats a stray KUBECONFIG baked into an image).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: one file, or several joined by the path delimiter like KUBECONFIG; each must exist. */
  kubeconfigPath?: string;
  env: Record<string, string | undefined>;
  /** For tests; defaults to the real home directory and service-account mount. */
  homeDir?: string;
  serviceAccountDir?: string;
}

export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  source: 'in-cluster' | 'kubeconfig';
  /** The file(s) read, or the service-account directory; for the start-up log line. */
  from: string;
}

/** The cluster to talk to, or undefined when none is configured (the caller then runs standalone). Throws on a broken explicit config. */
export function loadKubeConfig(options: LoadKubeConfigOptions): LoadedKubeConfig | undefined {
  const { env } = options;
  if (options.kubeconfigPath) {
    const files = options.kubeconfigPath.split(delimiter).filter((file) => file !== '');
    const missing = files.filter((file) => !existsSync(file));
    if (missing.length > 0 || files.length === 0) throw new Error(`kubeconfig ${missing.join(delimiter) || options.kubeconfigPath}: no such file`);
    return fromFiles(files);
  }
  const saDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  if (host && existsSync(join(saDir, 'token'))) return inCluster(host, env.KUBERNETES_SERVICE_PORT ?? '443', saDir);
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((file) => file !== '' && existsSync(file));
    if (files.length > 0) return fromFiles(files);
    return undefined;
  }
  const home = options.homeDir ?? env.HOME ?? homedir();
  const fallback = join(home, '.kube', 'config');
  return existsSync(fallback) ? fromFiles([fallback]) : undefined;
}

function fromFiles(files: string[]): LoadedKubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(files[0]!);
    for (const file of files.slice(1)) {
      const next = new KubeConfig();
      next.loadFromFile(file);
      kubeConfig.mergeConfig(next, true);
    }
  } catch (err) {
    throw new Error(`cannot read kubeconfig ${files.join(delimiter)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig ${files.join(delimiter)} has no current context with a cluster`);
  return { kubeConfig, source: 'kubeconfig', from: files.join(delimiter) };
}

/** What KubeConfig.loadFromCluster does, but reading the given env and directory (it reads process.env and a fixed path). */
function inCluster(host: string, port: string, saDir: string): LoadedKubeConfig {
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'inCluster', server, caFile: join(saDir, 'ca.crt'), skipTLSVerify: false }],
    // The token file is re-read every minute: bound service-account tokens rotate.
    users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: join(saDir, 'token') } } }],
    contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }],
    currentContext: 'inClusterContext',
  });
  return { kubeConfig, source: 'in-cluster', from: saDir };
}
