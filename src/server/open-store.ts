// Chooses where DestinationRules live (--store): the cluster when one is
// configured, else (or with --store=memory) an in-memory store seeded from
// manifests. Never memory by accident inside a pod (SPEC §6): there, a
// missing token means subsets would be written nowhere while /readyz says 200.
import type { Logger } from 'pino';
import type { ServeConfig } from '../config.js';
import { isDeployment, isDestinationRule, toDestinationRule } from '../manifests/kinds.js';
import { loadManifests } from '../manifests/load.js';
import { namespaceLabelsOf } from '../manifests/namespaces.js';
import { toObjects, type ManifestObject } from '../manifests/objects.js';
import type { DestinationRule } from '../rules/types.js';
import { loadKubeConfig, SERVICE_ACCOUNT_DIR } from '../store/kube/config.js';
import { DestinationRuleEvents } from '../store/kube/events.js';
import { connectKubeStore } from '../store/kube/kube-store.js';
import { MemoryStore } from '../store/memory-store.js';
import type { DestinationRuleStore, WrittenSubsets } from '../store/types.js';
import { KubeWorkloadReader } from '../store/kube/workloads.js';
import { MemoryWorkloads } from '../store/memory-workloads.js';
import type { WorkloadReader } from '../store/workloads.js';
import type { WebhookMetrics } from './metrics.js';

export async function openStore(config: ServeConfig, logger: Logger, metrics: Pick<WebhookMetrics, 'destinationRuleWrite'>): Promise<{ store: DestinationRuleStore; standalone: boolean; workloads: WorkloadReader }> {
  const kube = config.store === 'memory' ? undefined : loadKubeConfig({ kubeconfigPath: config.kubeconfigPath, env: process.env });
  if (kube === undefined && config.store !== 'memory') {
    const inPod = process.env.KUBERNETES_SERVICE_HOST !== undefined && process.env.KUBERNETES_SERVICE_HOST !== '';
    if (config.store === 'kube' || inPod) {
      const why = inPod
        ? `KUBERNETES_SERVICE_HOST is set but there is no service-account token in ${SERVICE_ACCOUNT_DIR} and no kubeconfig`
        : 'no in-cluster config and no kubeconfig found';
      throw new Error(`--store=${config.store}: ${why}; mount a token (automountServiceAccountToken: true), give --kubeconfig, or run with --store=memory`);
    }
  }
  if (kube === undefined) {
    const seed = config.seedDir ? await loadSeed(config.seedDir, logger) : { rules: [], namespaces: new Map(), deployments: [] };
    logger.info(
      {
        mode: 'standalone',
        reason: config.store === 'memory' ? '--store=memory' : 'no in-cluster config and no kubeconfig',
        seedDestinationRules: seed.rules.length,
        seedNamespaces: seed.namespaces.size,
        seedDeployments: seed.deployments.length,
      },
      'DestinationRules live in memory (standalone mode)',
    );
    // The kube store's writer logs its own writes; standalone logs the same line here.
    const onWritten = ({ action, destinationRule, subsets, deployments }: WrittenSubsets) => {
      logger.info({ destinationRule: `${destinationRule.metadata.namespace}/${destinationRule.metadata.name}`, subsets, deployments, verb: action === 'created' ? 'creating' : 'patching' }, 'DestinationRule subsets written');
    };
    const store = new MemoryStore(config.settings, seed.rules, { onWritten });
    for (const [name, labels] of seed.namespaces) store.putNamespace(name, labels);
    // Seeded Deployments are what already runs: the guard and the readiness check count them as they count admitted ones.
    for (const item of seed.deployments) store.deployments.upsert(item.object, item.namespace ?? 'default');
    return { store, standalone: true, workloads: new MemoryWorkloads(store.deployments) };
  }
  if (config.seedDir) logger.warn({ seedDir: config.seedDir }, '--seed-dir applies to standalone mode only; ignored');
  const server = kube.kubeConfig.getCurrentCluster()?.server;
  logger.info({ mode: 'kubernetes', source: kube.source, server }, 'DestinationRules come from the Kubernetes API');
  const events = new DestinationRuleEvents({ kubeConfig: kube.kubeConfig, logger });
  const store = await connectKubeStore({
    kubeConfig: kube.kubeConfig,
    settings: config.settings,
    logger,
    watchSilenceTimeoutMs: config.watchSilenceTimeoutMs,
    onWrite: (result) => metrics.destinationRuleWrite(result),
    onWritten: (written) => events.record(written),
  });
  return { store, standalone: false, workloads: new KubeWorkloadReader({ kubeConfig: kube.kubeConfig, cacheTtlMs: config.readyCacheTtlMs }) };
}

interface Seed {
  rules: DestinationRule[];
  /** Namespace documents' labels: injection follows them (SPEC §2). */
  namespaces: Map<string, Readonly<Record<string, string>>>;
  /** Deployments: what already runs, for the readiness check (docs/readiness.md). */
  deployments: ManifestObject[];
}

async function loadSeed(seedDir: string, logger: Logger): Promise<Seed> {
  const loaded = await loadManifests([seedDir], { stdin: (async function* () {})(), cwd: process.cwd() });
  const { objects, errors } = toObjects(loaded.documents);
  for (const error of [...loaded.errors, ...errors]) logger.warn({ file: error.file, line: error.line }, `seed manifest skipped: ${error.message}`);
  return {
    rules: objects.filter(isDestinationRule).flatMap((item) => toDestinationRule(item, 'default') ?? []),
    namespaces: namespaceLabelsOf(objects),
    deployments: objects.filter(isDeployment),
  };
}
