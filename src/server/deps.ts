import type { Logger } from 'pino';
import type { RuleSettings } from '../rules/types.js';
import type { DestinationRuleStore } from '../store/types.js';
import type { WorkloadReader } from '../store/workloads.js';
import type { WebhookMetrics } from './metrics.js';

/** Everything the HTTP layer needs, injected so tests and the benchmark can build it without TLS or a cluster. */
export interface AppDeps {
  store: DestinationRuleStore;
  settings: RuleSettings;
  logger: Logger;
  metrics: WebhookMetrics;
  onSubsetError: 'deny' | 'warn';
  subsetWriteTimeoutMs: number;
  maxBodyBytes: number;
  /** True once SIGTERM arrived: readiness fails and connections are closed after their answer. */
  isShuttingDown: () => boolean;
  /** `--guard`: what /guard does with a change that breaks a route (SPEC §9); default deny. */
  guardMode?: 'deny' | 'warn' | 'off';
  /** SPEC §10 readiness reads; absent, the check is off (settings.readyPolicy says warn or deny). */
  readiness?: ReadinessDeps;
}

export interface ReadinessDeps {
  reader: WorkloadReader;
  /** Distinct subsets looked up per review (--max-ready-reads). */
  maxReads: number;
  /** The check's share of a review, from the review's start (--ready-timeout-ms): past it the check is skipped. */
  timeoutMs: number;
}
