// Readiness reads against the Kubernetes API (SPEC §10): the Service's
// selector (GET) and the pods matching it plus the subset's labels (a
// label-selected LIST in the service's namespace). Both are shared between
// concurrent reviews (one request in flight per key) and cached for a short
// time per key; the cache holds counts and selectors, never pod objects.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { countPods, labelSelectorOf, podSelector, selectorString, type WorkloadSummary } from '../../rules/readiness.js';
import type { WorkloadQuery, WorkloadReadOptions, WorkloadReader } from '../workloads.js';
import { httpStatusOf, requestOptions } from './client.js';
import { KeepAliveAgents } from './keep-alive.js';

/** One page of pods: a subset with more matching pods than this and none Ready in the first page is not judged. */
const POD_PAGE_SIZE = 500;
const DEFAULT_MAX_ENTRIES = 2_000;

export interface KubeWorkloadOptions {
  kubeConfig: KubeConfig;
  /** How long an answer is reused; 0 reuses only a read still in flight. */
  cacheTtlMs: number;
  /** Entries per cache (Services, pod selectors); the oldest go first. */
  maxEntries?: number;
  /** Injectable clock for tests of expiry. */
  now?: () => number;
  /** Deadline of a background refresh (below); default 1,500 ms, the review budget's default. */
  refreshTimeoutMs?: number;
}

/**
 * An answer past its TTL but younger than this many TTLs is still used by a
 * review while one background read refreshes it: under steady traffic no
 * review waits for the API server, and no answer is older than the TTL plus
 * one read. Past it (sparse traffic), a review reads and waits.
 */
const STALE_TTLS = 3;

/** What the Service GET said: its selector, none (404), or endpoints managed by hand (a Service without selector). */
type ServiceSelector = { selector: Record<string, string> | undefined; manual: boolean };
const ABSENT: ServiceSelector = Object.freeze({ selector: undefined, manual: false });
const MANUAL: ServiceSelector = Object.freeze({ selector: undefined, manual: true });
/** Either the answer already (no pod list needed) or the pod list to look at. */
type PodPlan = { summary?: WorkloadSummary; labelSelector?: string; podsKey?: string };
type PodCounts = { running: number; ready: number } | undefined;

export class KubeWorkloadReader implements WorkloadReader {
  private readonly api: CoreV1Api;
  private readonly agents = new KeepAliveAgents();
  private readonly services: SharedReads<ServiceSelector>;
  private readonly pods: SharedReads<PodCounts>;
  /**
   * Subset labels × Service answer → pod plan. Both objects live as long as
   * their cache entries (the rules memoise a subset's labels), so the common
   * review builds no selector string.
   */
  private readonly plans = new WeakMap<object, WeakMap<ServiceSelector, PodPlan>>();
  private readonly refreshTimeoutMs: number;

  constructor(options: KubeWorkloadOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    const now = options.now ?? Date.now;
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.services = new SharedReads(options.cacheTtlMs, maxEntries, now);
    this.pods = new SharedReads(options.cacheTtlMs, maxEntries, now);
    this.refreshTimeoutMs = options.refreshTimeoutMs ?? 1_500;
  }

  async summary(query: WorkloadQuery, options: WorkloadReadOptions): Promise<WorkloadSummary | undefined> {
    const readAfterMs = options.readAfterMs ?? -Infinity;
    const service = await this.services.get(serviceKey(query), readAfterMs, () => this.readService(query.namespace, query.service, options.deadlineMs));
    const pods = this.plan(query, service);
    if (pods.summary !== undefined || pods.labelSelector === undefined) return pods.summary;
    const labelSelector = pods.labelSelector;
    const counts = await this.pods.get(pods.podsKey!, readAfterMs, () => this.listPods(query.namespace, labelSelector, options.deadlineMs));
    return counts && { source: 'pods', ...counts };
  }

  cached(query: WorkloadQuery): { summary: WorkloadSummary | undefined } | undefined {
    const service = this.services.peek(serviceKey(query), () => this.readService(query.namespace, query.service, Date.now() + this.refreshTimeoutMs));
    if (!service) return undefined;
    const pods = this.plan(query, service.value);
    if (pods.summary !== undefined || pods.labelSelector === undefined) return { summary: pods.summary };
    const labelSelector = pods.labelSelector;
    const counts = this.pods.peek(pods.podsKey!, () => this.listPods(query.namespace, labelSelector, Date.now() + this.refreshTimeoutMs));
    if (!counts) return undefined;
    return { summary: counts.value && { source: 'pods', ...counts.value } };
  }

  close(): void {
    this.agents.close();
  }

  private plan(query: WorkloadQuery, service: ServiceSelector): PodPlan {
    let byService = this.plans.get(query.labels);
    if (!byService) this.plans.set(query.labels, (byService = new WeakMap()));
    let plan = byService.get(service);
    if (!plan) byService.set(service, (plan = podsFor(query, service)));
    return plan;
  }

  private async readService(namespace: string, name: string, deadlineMs: number): Promise<ServiceSelector> {
    try {
      const service = await this.api.readNamespacedService({ name, namespace }, requestOptions(remaining(deadlineMs), undefined, undefined, this.agents));
      const selector = labelSelectorOf(service.spec?.selector);
      return selector && Object.keys(selector).length > 0 ? { selector, manual: false } : MANUAL;
    } catch (error) {
      if (httpStatusOf(error) === 404) return ABSENT;
      throw error;
    }
  }

  private async listPods(namespace: string, labelSelector: string, deadlineMs: number): Promise<PodCounts> {
    const list = await this.api.listNamespacedPod({ namespace, labelSelector, limit: POD_PAGE_SIZE }, requestOptions(remaining(deadlineMs), undefined, undefined, this.agents));
    const counts = countPods(list.items ?? []);
    // Only the first page was counted: "none Ready" would be a guess.
    if (list.metadata?._continue && counts.ready === 0) return undefined;
    return counts;
  }
}

const serviceKey = (query: WorkloadQuery): string => `${query.namespace}/${query.service}`;

function podsFor(query: WorkloadQuery, service: ServiceSelector): PodPlan {
  // Endpoints of a selector-less Service are managed by hand: pods say nothing about them.
  if (service.manual) return {};
  const selector = podSelector(query.labels, service.selector);
  if (selector === 'conflict') return { summary: { source: 'pods', running: 0, ready: 0 } };
  if (selector === undefined) return {};
  const labelSelector = selectorString(selector);
  return { labelSelector, podsKey: `${query.namespace}\n${labelSelector}` };
}

function remaining(deadlineMs: number): number {
  return Math.max(1, deadlineMs - Date.now());
}

/** One request in flight per key, its answer reused for `ttlMs`; at most `maxEntries` answers kept. */
class SharedReads<V> {
  private readonly answers = new Map<string, { value: V; readAtMs: number }>();
  private readonly inFlight = new Map<string, Promise<V>>();
  private readonly started = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  /** An answer without waiting: fresh, or stale within STALE_TTLS while `refresh` (one in flight per key) replaces it. */
  peek(key: string, refresh: () => Promise<V>): { value: V } | undefined {
    const answer = this.answers.get(key);
    if (!answer) return undefined;
    const ageMs = this.now() - answer.readAtMs;
    if (ageMs < this.ttlMs) return answer;
    if (ageMs >= this.ttlMs * STALE_TTLS) return undefined;
    // A failed refresh leaves the stale answer until it ages out; the next review tries again.
    if (!this.inFlight.has(key)) this.get(key, -Infinity, refresh).catch(() => undefined);
    return answer;
  }

  get(key: string, readAfterMs: number, read: () => Promise<V>): Promise<V> {
    const now = this.now();
    const answer = this.answers.get(key);
    if (answer && now - answer.readAtMs < this.ttlMs && answer.readAtMs >= readAfterMs) return Promise.resolve(answer.value);
    const running = this.inFlight.get(key);
    if (running && this.started.get(key)! >= readAfterMs) return running;
    const readAtMs = now;
    const promise = read().then(
      (value) => {
        this.remember(key, value, readAtMs);
        return value;
      },
    );
    this.inFlight.set(key, promise);
    this.started.set(key, readAtMs);
    const done = (): void => {
      if (this.inFlight.get(key) !== promise) return;
      this.inFlight.delete(key);
      this.started.delete(key);
    };
    promise.then(done, done);
    return promise;
  }

  private remember(key: string, value: V, readAtMs: number): void {
    if (this.ttlMs <= 0) return;
    // A slow older read must not replace a newer answer.
    if ((this.answers.get(key)?.readAtMs ?? -Infinity) > readAtMs) return;
    this.answers.delete(key);
    this.answers.set(key, { value, readAtMs });
    if (this.answers.size > this.maxEntries) this.answers.delete(this.answers.keys().next().value!);
  }
}
