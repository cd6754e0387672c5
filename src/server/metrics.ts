// Prometheus metrics (SPEC §6). A registry per app so tests and the
// benchmark can run several servers in one process without collisions.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DestinationRuleStore } from '../store/types.js';

export type WebhookName = 'mutate' | 'validate' | 'guard';
export type ReviewResult = 'allowed' | 'patched' | 'denied' | 'bad_request';

export interface WebhookMetrics {
  registry: Registry;
  observeReview(webhook: WebhookName, operation: string, result: ReviewResult, durationSeconds: number): void;
  /** One per review that needed a subset: present, created, appended or failed. */
  subsetEnsured(outcome: string): void;
  /** One per write the Kubernetes store sent to the API server, conflicts and errors included. */
  destinationRuleWrite(result: string): void;
}

export function createMetrics(store: Pick<DestinationRuleStore, 'size'>, options: { processMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'canary_webhook_' });
  const requests = new Counter({
    name: 'canary_webhook_admission_requests_total',
    help: 'Admission reviews answered, by webhook, operation and result',
    labelNames: ['webhook', 'operation', 'result'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'canary_webhook_admission_duration_seconds',
    help: 'Time from body received to answer sent, by webhook',
    labelNames: ['webhook'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const ensured = new Counter({
    name: 'canary_webhook_subset_ensure_total',
    help: 'Canary Deployments whose DestinationRule subset was ensured, by outcome (present, created, appended, failed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const writes = new Counter({
    name: 'canary_webhook_destinationrule_writes_total',
    help: 'DestinationRule writes sent to the API server, by result (created, appended, conflict, error)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'canary_webhook_destinationrule_cache_size',
    help: 'DestinationRules held in the cache',
    registers: [registry],
    collect() {
      this.set(store.size());
    },
  });
  // prom-client hashes the label object on every inc/observe; the label sets
  // here are few and fixed, so each child is looked up once and kept.
  const requestCounters = new Map<string, { inc(): void }>();
  const latencyHistograms = new Map<string, { observe(value: number): void }>();
  return {
    registry,
    observeReview(webhook, operation, result, durationSeconds) {
      const key = `${webhook} ${operation} ${result}`;
      let counter = requestCounters.get(key);
      if (!counter) requestCounters.set(key, (counter = requests.labels({ webhook, operation, result })));
      counter.inc();
      let histogram = latencyHistograms.get(webhook);
      if (!histogram) latencyHistograms.set(webhook, (histogram = latency.labels({ webhook })));
      histogram.observe(durationSeconds);
    },
    subsetEnsured(outcome) {
      ensured.inc({ outcome });
    },
    destinationRuleWrite(result) {
      writes.inc({ result });
    },
  };
}
