// Builds the real app (real rules, real in-memory store) for supertest, without TLS.
import { pino } from 'pino';
import { defaultRuleSettings, type DestinationRule, type RuleSettings } from '../../src/rules/types.js';
import { createApp } from '../../src/server/app.js';
import type { AppDeps } from '../../src/server/deps.js';
import { createMetrics } from '../../src/server/metrics.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { DestinationRuleStore } from '../../src/store/types.js';

export interface Harness {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
}

export interface DepsOptions { seed?: DestinationRule[]; store?: DestinationRuleStore; settings?: Partial<RuleSettings>; overrides?: Partial<AppDeps> }

/** The app's dependencies with the served defaults, a silent logger and no process metrics (tests and in-process benchmarks). */
export function buildDeps(options: DepsOptions = {}): AppDeps {
  const settings = { ...defaultRuleSettings, ...options.settings };
  const store = options.store ?? new MemoryStore(settings, options.seed ?? []);
  return {
    store,
    settings,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(store, { processMetrics: false }),
    onSubsetError: 'deny',
    subsetWriteTimeoutMs: 3_000,
    maxBodyBytes: 3 * 1024 * 1024,
    isShuttingDown: () => false,
    ...options.overrides,
  };
}

export function buildApp(options: DepsOptions = {}): Harness {
  const deps = buildDeps(options);
  return { app: createApp(deps), deps };
}

let uidCounter = 0;

/** An AdmissionReview as the API server sends it. */
export function review(object: unknown, options: {
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  operation?: string;
  namespace?: string;
  oldObject?: unknown;
  dryRun?: boolean;
  apiVersion?: string;
} = {}): Record<string, unknown> {
  const isDeployment = options.kind ? options.kind.kind === 'Deployment' : (object as { kind?: unknown } | null)?.kind === 'Deployment';
  const kind = options.kind ?? (isDeployment
    ? { group: 'apps', version: 'v1', kind: 'Deployment' }
    : { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' });
  const resource = options.resource ?? (isDeployment
    ? { group: 'apps', version: 'v1', resource: 'deployments' }
    : { group: 'networking.istio.io', version: 'v1', resource: 'virtualservices' });
  uidCounter += 1;
  return {
    apiVersion: options.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `test-uid-${uidCounter}`,
      kind,
      resource,
      namespace: options.namespace ?? 'default',
      operation: options.operation ?? 'CREATE',
      object,
      oldObject: options.oldObject ?? null,
      dryRun: options.dryRun ?? false,
    },
  };
}

export interface ReviewAnswer {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; patchType?: string; patch?: string; warnings?: string[] };
}

export function decodePatch(answer: ReviewAnswer): unknown[] {
  return answer.response.patch ? (JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')) as unknown[]) : [];
}
