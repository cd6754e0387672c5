// The in-memory DestinationRule store: standalone mode (no cluster) and the
// offline CLI. Same planning code as the Kubernetes store; writes are
// synchronous, so there is nothing to retry and no update can be lost.
import { planSubset } from '../rules/subset-plan.js';
import type { DestinationRule, RuleSettings, SubsetRequest } from '../rules/types.js';
import { HostIndex } from './host-index.js';
import { planInputFor } from './plan-input.js';
import type { DestinationRuleStore, EnsureSubsetResult, WrittenSubsets } from './types.js';
import { MemoryDeployments } from './memory-deployments.js';
import { MemoryRouting } from './memory-routing.js';

export interface MemoryStoreOptions {
  /** Called after each create or append (the write's log line in standalone mode). */
  onWritten?: (written: WrittenSubsets) => void;
}

export class MemoryStore implements DestinationRuleStore {
  private readonly index: HostIndex;
  private resourceVersion = 0;
  /** VirtualServices and Deployments admitted by the webhook, for the guard. */
  readonly routing: MemoryRouting;
  /** Seeded and admitted Deployments: the guard (through `routing`) and the readiness check (MemoryWorkloads) read this one record. */
  readonly deployments: MemoryDeployments;
  /** Namespace labels from seed manifests (standalone); nothing writes them afterwards. */
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    private readonly settings: RuleSettings,
    seed: DestinationRule[] = [],
    private readonly options: MemoryStoreOptions = {},
  ) {
    this.index = new HostIndex(settings.clusterDomain);
    for (const rule of seed) this.index.upsert(this.stamp(structuredClone(rule)));
    this.deployments = new MemoryDeployments(settings);
    this.routing = new MemoryRouting(settings, {
      upsertDestinationRule: (object) => this.index.upsert(this.stamp(structuredClone(object) as DestinationRule)),
      deleteDestinationRule: (namespace, name) => void this.index.delete(namespace, name),
    }, this.deployments);
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
          this.options.onWritten?.({ action: 'created', destinationRule: created, subsets: [request.subsetName], deployments: deploymentsOf(request) });
          return { outcome: 'created', destinationRule: created, warnings: plan.warnings, attempts: 1 };
        }
        case 'append': {
          const updated = this.stamp(structuredClone(plan.updated));
          this.index.upsert(updated);
          if (!plan.present) this.options.onWritten?.({ action: 'appended', destinationRule: updated, subsets: [request.subsetName], deployments: deploymentsOf(request) });
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

function deploymentsOf(request: SubsetRequest): string[] {
  return request.deployment === undefined ? [] : [request.deployment];
}
