// The readiness seam (SPEC §10): what a subset's labels select where the
// workloads live. Kept apart from DestinationRuleStore: it is optional, and
// standalone and cluster answer it from different objects (the memory
// store's Deployments, label-selected pods).
import type { ReadinessQuery, WorkloadSummary } from '../rules/readiness.js';

export type WorkloadQuery = Pick<ReadinessQuery, 'namespace' | 'service' | 'labels'>;

export interface WorkloadReadOptions {
  /** Answers from a read started before this time (epoch ms) are not used: the deny policy re-checks a "none ready" with a read sent after its review began. */
  readAfterMs?: number;
  /** Give up the API request at this time (epoch ms). */
  deadlineMs: number;
}

export interface WorkloadReader {
  /**
   * What the subset selects; undefined when that cannot be said (a Service
   * without a selector, more pods than one page). Rejects when the API
   * server could not be asked.
   */
  summary(query: WorkloadQuery, options: WorkloadReadOptions): Promise<WorkloadSummary | undefined>;
  /**
   * The answer `summary` would give now without a request, or undefined when
   * it would need one: the common, cached case then costs no promise or timer.
   */
  cached?(query: WorkloadQuery): { summary: WorkloadSummary | undefined } | undefined;
  close(): void;
}
