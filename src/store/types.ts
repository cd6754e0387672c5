import type { DestinationRule, SubsetRequest } from '../rules/types.js';
import type { RoutingView } from './routing.js';

/** Result of making sure a subset exists (SPEC §2 "The DestinationRule subset"). */
export type EnsureSubsetResult =
  | { outcome: 'present' | 'created' | 'appended'; destinationRule: DestinationRule; warnings: string[]; attempts: number }
  | { outcome: 'failed'; reason: string; attempts: number }
  /** Over a bound (`--max-subsets`): always a denial, whatever --on-subset-error says. */
  | { outcome: 'refused'; reason: string; attempts: number };

/**
 * The seam between the pure rules and where DestinationRules live: the
 * in-memory store (standalone mode, offline CLI) and the Kubernetes store
 * (informer cache + direct reads + conflict-retrying writes) both implement it.
 */
export interface DestinationRuleStore {
  /** Cached DestinationRules (all namespaces) whose resolved `spec.host` is this FQDN or a wildcard that matches it. Cost independent of store size. */
  candidatesForHost(fqdn: string): readonly DestinationRule[];
  /**
   * Re-read the given namespaces from the source of truth and fold the result
   * into the cache. Called only before a denial for a missing subset, so a
   * stale cache never causes a false denial.
   */
  refreshNamespaces(namespaces: readonly string[]): Promise<void>;
  /** Create or append the subset, retrying conflicts until `deadlineMs` (epoch ms). */
  ensureSubset(request: SubsetRequest, deadlineMs: number): Promise<EnsureSubsetResult>;
  /** True once the first full list has been loaded. */
  isReady(): boolean;
  /**
   * Labels of a namespace (SPEC §2: injection depends on `istio-injection`,
   * `istio.io/rev`, `istio.io/dataplane-mode`); undefined when the namespace
   * is unknown, which the rules read as unlabelled. Memory store: Namespace
   * documents of `--seed-dir`; kube store: a watch-fed Namespace cache.
   */
  namespaceLabels?(namespace: string): Readonly<Record<string, string>> | undefined;
  /** Number of cached DestinationRules (metrics). */
  size(): number;
  /** Stop watches and timers. */
  close(): Promise<void>;
  /** VirtualServices, Namespaces and Deployments for the guard (SPEC §9); absent → nothing is guarded. */
  readonly routing?: RoutingView;
}
