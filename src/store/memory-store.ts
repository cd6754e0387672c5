// The in-memory DestinationRule store: standalone mode (no cluster) and the
// offline CLI. Same planning code as the Kubernetes store; writes are
// synchronous, so there is nothing to retry and no update can be lost.
import { planSubset } from '../rules/subset-plan.js';
import type { DestinationRule, RuleSettings, SubsetRequest } from '../rules/types.js';
import { HostIndex } from './host-index.js';
import { planInputFor } from './plan-input.js';
import type { DestinationRuleStore, EnsureSubsetResult } from './types.js';
import { MemoryRouting } from './memory-routing.js';

export class MemoryStore implements DestinationRuleStore {
  private readonly index: HostIndex;
  private resourceVersion = 0;
  /** VirtualServices and Deployments admitted by the webhook, for the guard. */
  readonly routing: MemoryRouting;
  /** Namespace labels from seed manifests (standalone); nothing writes them afterwards. */
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    private readonly settings: RuleSettings,
    seed: DestinationRule[] = [],
  ) {
    this.index = new HostIndex(settings.clusterDomain);
    for (const rule of seed) this.index.upsert(this.stamp(structuredClone(rule)));
    this.routing = new MemoryRouting(settings, {
      upsertDestinationRule: (object) => this.index.upsert(this.stamp(structuredClone(object) as DestinationRule)),
      deleteDestinationRule: (namespace, name) => void this.index.delete(namespace, name),
    });
  }

  candidatesForHost(fqdn: string): readonly DestinationRule[] {
    return this.index.candidatesForHost(fqdn);
  }

  /** Memory is the source of truth: nothing fresher to read. */
  async refreshNamespaces(_namespaces: readonly string[]): Promise<void> {}

  async ensureSubset(request: SubsetRequest, _deadlineMs: number): Promise<EnsureSubsetResult> {
    try {
      const plan = planSubset(request, planInputFor(this.index, request), this.settings);
      switch (plan.action) {
        case 'none':
          return { outcome: 'present', destinationRule: plan.destinationRule, warnings: plan.warnings, attempts: 1 };
        case 'refuse':
          return { outcome: 'refused', reason: plan.reason, attempts: 1 };
        case 'delete':
          // The companion held only copies of subsets a user rule now defines.
          this.index.delete(plan.original.metadata.namespace, plan.original.metadata.name);
          return { outcome: 'present', destinationRule: plan.original, warnings: plan.warnings, attempts: 1 };
        case 'create': {
          const created = this.stamp(structuredClone(plan.destinationRule));
          this.index.upsert(created);
          return { outcome: 'created', destinationRule: created, warnings: plan.warnings, attempts: 1 };
        }
        case 'append': {
          const updated = this.stamp(structuredClone(plan.updated));
          this.index.upsert(updated);
          return { outcome: plan.present ? 'present' : 'appended', destinationRule: updated, warnings: plan.warnings, attempts: 1 };
        }
      }
    } catch (err) {
      return { outcome: 'failed', reason: err instanceof Error ? err.message : String(err), attempts: 1 };
    }
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.get(namespace);
  }

  /** Record a Namespace's labels (seed manifests); a later call for the same name replaces them. */
  putNamespace(name: string, labels: Readonly<Record<string, string>>): void {
    this.namespaces.set(name, Object.freeze({ ...labels }));
  }

  /** Every stored rule, ordered by namespace then name (`inject` output, tests). */
  list(): DestinationRule[] {
    return this.index.all();
  }

  isReady(): boolean {
    return true;
  }

  size(): number {
    return this.index.size();
  }

  async close(): Promise<void> {}

  /** A new resourceVersion on every write, as an API server would; nothing else is added. */
  private stamp(rule: DestinationRule): DestinationRule {
    this.resourceVersion += 1;
    rule.metadata.resourceVersion = String(this.resourceVersion);
    return rule;
  }
}
