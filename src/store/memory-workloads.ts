// Standalone readiness: no pods exist, so a Deployment stands for its pods
// (ready when it asks for replicas > 0). The Deployments are the memory
// store's one record (MemoryDeployments), the same the guard reads: a DELETE
// /guard admitted or a scale to 0 counts here at once. The walkthrough can
// then show the warning for a version never deployed, or deleted.
import { summarizeWorkloads, type WorkloadSummary } from '../rules/readiness.js';
import type { MemoryDeployments } from './memory-deployments.js';
import type { WorkloadQuery, WorkloadReader } from './workloads.js';

export class MemoryWorkloads implements WorkloadReader {
  constructor(private readonly deployments: MemoryDeployments) {}

  async summary(query: WorkloadQuery): Promise<WorkloadSummary> {
    return summarizeWorkloads(this.deployments.workloadsIn(query.namespace), query);
  }

  /** Memory is the source of truth: always answered. */
  cached(query: WorkloadQuery): { summary: WorkloadSummary } {
    return { summary: summarizeWorkloads(this.deployments.workloadsIn(query.namespace), query) };
  }

  close(): void {}
}
