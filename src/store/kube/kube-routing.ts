// The Kubernetes side of RoutingView: watch-fed VirtualService (all
// namespaces) and Namespace caches on the generic list-then-watch loop, and
// direct reads (VirtualServices before a guard denial, a Namespace's state,
// a namespace's Deployments).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RuleSettings } from '../../rules/types.js';
import { ObjectIndex } from '../object-index.js';
import {
  isTerminating,
  meshClaimKey,
  MESH_HOST_INDEX,
  SUBSET_HOST_INDEX,
  virtualServiceIndex,
  type DeploymentObject,
  type NamespaceObject,
  type RoutingView,
  type VirtualServiceObject,
} from '../routing.js';
import { describeError } from './client.js';
import { KeepAliveAgents } from './keep-alive.js';
import { ListWatchCache } from './list-watch-cache.js';
import type { BackoffOptions } from './retry.js';
import { deploymentReader, namespaceSource, virtualServiceSource } from './sources.js';

export interface KubeRoutingOptions {
  kubeConfig: KubeConfig;
  /** networking.istio.io version in use. */
  version: string;
  settings: RuleSettings;
  logger: Logger;
  watchSilenceTimeoutMs: number;
  requestTimeoutMs: number;
  listTimeoutMs: number;
  backoff: BackoffOptions;
}

export class KubeRoutingView implements RoutingView {
  private readonly agents = new KeepAliveAgents();
  private readonly virtualServices: ObjectIndex<VirtualServiceObject>;
  private readonly namespaces = new ObjectIndex<NamespaceObject>();
  private readonly virtualServiceCache: ListWatchCache<VirtualServiceObject>;
  private readonly namespaceCache: ListWatchCache<NamespaceObject>;
  private readonly virtualServiceList: ReturnType<typeof virtualServiceSource>;
  private readonly namespaceRead: ReturnType<typeof namespaceSource>['read'];
  private readonly readDeployments: ReturnType<typeof deploymentReader>;

  constructor(private readonly options: KubeRoutingOptions) {
    const { kubeConfig, logger, watchSilenceTimeoutMs, listTimeoutMs, backoff } = options;
    this.virtualServices = virtualServiceIndex(options.settings);
    this.virtualServiceList = virtualServiceSource(kubeConfig, options.version, this.agents);
    const namespaces = namespaceSource(kubeConfig, this.agents);
    this.namespaceRead = namespaces.read;
    this.readDeployments = deploymentReader(kubeConfig, this.agents);
    const common = { kubeConfig, logger, watchSilenceTimeoutMs, listTimeoutMs, backoff };
    this.virtualServiceCache = new ListWatchCache({ ...common, source: this.virtualServiceList, store: this.virtualServices });
    this.namespaceCache = new ListWatchCache({ ...common, source: namespaces, store: this.namespaces });
  }

  start(): void {
    this.virtualServiceCache.start();
    this.namespaceCache.start();
  }

  isReady(): boolean {
    return this.virtualServiceCache.isSynced() && this.namespaceCache.isSynced();
  }

  /**
   * Both caches have listed. Also waits (within the same time) until both
   * watches are open, so a change made right after this resolves is seen by
   * the watch rather than by a reconnect.
   */
  async waitForSync(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const caches = [this.virtualServiceCache, this.namespaceCache];
    const synced = (await Promise.all(caches.map((cache) => cache.waitForSync(timeoutMs)))).every(Boolean);
    if (synced) await Promise.all(caches.map((cache) => cache.waitForWatch(Math.max(1, deadline - Date.now()))));
    return synced;
  }

  async stop(): Promise<void> {
    await Promise.all([this.virtualServiceCache.stop(), this.namespaceCache.stop()]);
    this.agents.close();
  }

  /** Labels of a cached Namespace; undefined when the cache does not know it. */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    const found = this.namespaces.get('', namespace);
    return found ? (found.metadata.labels ?? {}) : undefined;
  }

  virtualServicesRouting(hostPattern: string): readonly VirtualServiceObject[] {
    return this.virtualServices.byIndex(SUBSET_HOST_INDEX, hostPattern);
  }

  meshClaims(namespace: string, host: string): readonly VirtualServiceObject[] {
    return this.virtualServices.byIndex(MESH_HOST_INDEX, meshClaimKey(namespace, host));
  }

  /** Direct list of each namespace's VirtualServices, folded into the cache; rejects if any failed. */
  async refreshVirtualServices(namespaces: readonly string[]): Promise<void> {
    const unique = [...new Set(namespaces.filter((ns) => ns !== ''))];
    const results = await Promise.allSettled(
      unique.map(async (namespace) => {
        const { items, resourceVersion } = await this.virtualServiceList.list(namespace, this.options.requestTimeoutMs);
        this.virtualServiceCache.replaceNamespace(namespace, items, resourceVersion);
      }),
    );
    const failures = results.flatMap((result, i) => (result.status === 'rejected' ? [`${unique[i]}: ${describeError(result.reason)}`] : []));
    if (failures.length > 0) throw new Error(`cannot re-read VirtualServices from the API server (${failures.join('; ')})`);
  }

  deploymentsIn(namespace: string): Promise<readonly DeploymentObject[]> {
    return this.readDeployments(namespace, this.options.requestTimeoutMs);
  }

  async namespaceTerminating(namespace: string, fresh = false): Promise<boolean> {
    if (!fresh) return isTerminating(this.namespaces.get('', namespace));
    const read = await this.namespaceRead(namespace, this.options.requestTimeoutMs);
    if (read) this.namespaceCache.observe(read);
    return isTerminating(read);
  }
}
