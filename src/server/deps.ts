import type { Logger } from 'pino';
import type { RuleSettings } from '../rules/types.js';
import type { DestinationRuleStore } from '../store/types.js';
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
}
