// The Kubernetes-backed DestinationRuleStore: discovery picks the
// networking.istio.io version, a watch-fed cache answers lookups, direct
// reads back every would-be denial, and subset writes are conflict-safe.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { DestinationRule, RuleSettings, SubsetRequest } from '../../rules/types.js';
import { HostIndex } from '../host-index.js';
import type { DestinationRuleStore, EnsureSubsetResult } from '../types.js';
import { DestinationRuleCache } from './cache.js';
import { DestinationRuleClient, describeError } from './client.js';
import { discoverIstioVersion, IstioNotInstalledError } from './discovery.js';
import { backoffDelay, Sleeper, type BackoffOptions } from './retry.js';
import { SubsetWriter, type SubsetWriteRetry, type WriteResult } from './writer.js';
import { KubeRoutingView } from './kube-routing.js';

export type { SubsetWriteRetry, WriteResult };
export { IstioNotInstalledError };

export interface KubeStoreOptions {
  kubeConfig: KubeConfig;
  settings: RuleSettings;
  logger: Logger;
  /** Restart a watch that sent no event or bookmark for this long; default 300,000 ms. */
  watchSilenceTimeoutMs?: number;
  subsetWriteRetry?: SubsetWriteRetry;
  /** DestinationRule write results, for metrics. */
  onWrite?: (result: WriteResult) => void;
  /** Cap on a direct read (refreshNamespaces, the initial list); default 5,000 ms. */
  requestTimeoutMs?: number;
  /** How long start-up keeps retrying an unreachable API server before rejecting; default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Backoff of watch/list restarts; default 250 ms doubling to 30 s, equal jitter. */
  watchBackoff?: Partial<Pick<BackoffOptions, 'baseMs' | 'maxMs'>>;
}

export interface KubeStore extends DestinationRuleStore {
  /** The networking.istio.io version in use, e.g. `networking.istio.io/v1`. */
  readonly apiVersion: string;
  /** True once the first list is in; false if `timeoutMs` passes first. Never rejects. */
  waitForSync(timeoutMs: number): Promise<boolean>;
}

/**
 * Discover the Istio API version and start the cache (not waiting for it to
 * sync: `/readyz` follows `isReady()`). Rejects with IstioNotInstalledError
 * when the group is not served, or with an Error naming the server when it
 * stays unreachable for `connectTimeoutMs`. Never leaves anything running
 * when it rejects.
 */
export async function connectKubeStore(options: KubeStoreOptions): Promise<KubeStore> {
  const { kubeConfig, logger } = options;
  const deadline = Date.now() + (options.connectTimeoutMs ?? 10_000);
  const sleeper = new Sleeper();
  for (let attempt = 0; ; attempt++) {
    try {
      const remaining = Math.max(1, Math.min(5_000, deadline - Date.now()));
      const version = await discoverIstioVersion(kubeConfig, remaining);
      const store = new KubeStoreImpl(options, new DestinationRuleClient(kubeConfig, version));
      logger.info({ apiVersion: store.apiVersion }, 'using Istio API version');
      return store;
    } catch (err) {
      const delay = backoffDelay(attempt, { baseMs: 200, maxMs: 2_000, jitter: 'equal' });
      if (err instanceof IstioNotInstalledError || Date.now() + delay >= deadline) throw err;
      logger.warn({ err: describeError(err), retryInMs: Math.round(delay) }, 'Kubernetes API not reachable yet');
      await sleeper.sleep(delay);
    }
  }
}

class KubeStoreImpl implements KubeStore {
  private readonly index: HostIndex;
  private readonly cache: DestinationRuleCache;
  private readonly writer: SubsetWriter;
  private readonly requestTimeoutMs: number;
  /** VirtualService and Namespace caches, Deployment reads (the guard, SPEC §9). */
  readonly routing: KubeRoutingView;

  constructor(
    options: KubeStoreOptions,
    private readonly client: DestinationRuleClient,
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.index = new HostIndex(options.settings.clusterDomain);
    this.cache = new DestinationRuleCache({
      kubeConfig: options.kubeConfig,
      client,
      index: this.index,
      logger: options.logger,
      watchSilenceTimeoutMs: options.watchSilenceTimeoutMs ?? 300_000,
      listTimeoutMs: Math.max(this.requestTimeoutMs, 30_000),
      backoff: { baseMs: 250, maxMs: 30_000, ...options.watchBackoff, jitter: 'equal' },
    });
    this.writer = new SubsetWriter({
      client,
      cache: this.cache,
      index: this.index,
      settings: options.settings,
      logger: options.logger,
      retry: options.subsetWriteRetry,
      onWrite: options.onWrite,
    });
    this.routing = new KubeRoutingView({
      kubeConfig: options.kubeConfig,
      version: client.version,
      settings: options.settings,
      logger: options.logger,
      watchSilenceTimeoutMs: options.watchSilenceTimeoutMs ?? 300_000,
      requestTimeoutMs: this.requestTimeoutMs,
      listTimeoutMs: Math.max(this.requestTimeoutMs, 30_000),
      backoff: { baseMs: 250, maxMs: 30_000, ...options.watchBackoff, jitter: 'equal' },
    });
    this.cache.start();
    this.routing.start();
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.routing.namespaceLabels(namespace);
  }

  get apiVersion(): string {
    return this.client.apiVersion;
  }

  candidatesForHost(fqdn: string): readonly DestinationRule[] {
    return this.index.candidatesForHost(fqdn);
  }

  /** Direct list of each namespace, folded into the cache; rejects (after folding in the ones that worked) if any failed. */
  async refreshNamespaces(namespaces: readonly string[]): Promise<void> {
    const unique = [...new Set(namespaces.filter((ns) => ns !== ''))];
    const results = await Promise.allSettled(
      unique.map(async (namespace) => {
        const { items, resourceVersion } = await this.client.list(namespace, this.requestTimeoutMs);
        this.cache.replaceNamespace(namespace, items, resourceVersion);
      }),
    );
    const failures = results.flatMap((result, i) => (result.status === 'rejected' ? [`${unique[i]}: ${describeError(result.reason)}`] : []));
    if (failures.length > 0) throw new Error(`cannot re-read DestinationRules from the API server (${failures.join('; ')})`);
  }

  ensureSubset(request: SubsetRequest, deadlineMs: number): Promise<EnsureSubsetResult> {
    return this.writer.ensureSubset(request, deadlineMs);
  }

  /** Every cache has synced: DestinationRules, VirtualServices, Namespaces. */
  isReady(): boolean {
    return this.cache.isSynced() && this.routing.isReady();
  }

  async waitForSync(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all([this.cache.waitForSync(timeoutMs), this.routing.waitForSync(timeoutMs)]);
    return results.every(Boolean);
  }

  size(): number {
    return this.index.size();
  }

  async close(): Promise<void> {
    this.writer.close();
    await Promise.all([this.cache.stop(), this.routing.stop()]);
    this.client.close();
  }
}
