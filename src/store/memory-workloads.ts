// Standalone readiness: no pods exist, so a Deployment admitted through
// /mutate stands for its pods (ready when it asks for replicas > 0). The
// walkthrough can then show the warning for a version never deployed.
import { summarizeWorkloads, workloadOf, type WorkloadSummary, type WorkloadTemplate } from '../rules/readiness.js';
import type { RuleSettings } from '../rules/types.js';
import type { WorkloadQuery, WorkloadReader } from './workloads.js';

/** Memory stays bounded whatever is admitted: the oldest entries go first. */
const MAX_DEPLOYMENTS = 10_000;

export class MemoryWorkloads implements WorkloadReader {
  /** `namespace/name` → the Deployment's template labels and replicas; nothing else of it is kept. */
  private readonly deployments = new Map<string, WorkloadTemplate>();
  /** The same entries by namespace, so a summary costs the namespace's Deployments, not all of them. */
  private readonly byNamespace = new Map<string, Map<string, WorkloadTemplate>>();

  constructor(private readonly settings: RuleSettings) {}

  admitted(deployment: unknown, namespace: string): void {
    const name = (deployment as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    if (typeof name !== 'string' || name === '' || namespace === '') return;
    const workload = workloadOf(deployment, namespace, this.settings);
    if (!workload) return;
    const key = `${namespace}/${name}`;
    this.forget(key);
    this.deployments.set(key, workload);
    let inNamespace = this.byNamespace.get(namespace);
    if (!inNamespace) this.byNamespace.set(namespace, (inNamespace = new Map()));
    inNamespace.set(key, workload);
    if (this.deployments.size > MAX_DEPLOYMENTS) this.forget(this.deployments.keys().next().value!);
  }

  async summary(query: WorkloadQuery): Promise<WorkloadSummary> {
    return summarizeWorkloads(this.byNamespace.get(query.namespace)?.values() ?? [], query);
  }

  /** Memory is the source of truth: always answered. */
  cached(query: WorkloadQuery): { summary: WorkloadSummary } {
    return { summary: summarizeWorkloads(this.byNamespace.get(query.namespace)?.values() ?? [], query) };
  }

  close(): void {}

  private forget(key: string): void {
    const workload = this.deployments.get(key);
    if (!workload) return;
    this.deployments.delete(key);
    const inNamespace = this.byNamespace.get(workload.namespace);
    inNamespace?.delete(key);
    if (inNamespace?.size === 0) this.byNamespace.delete(workload.namespace);
  }
}
