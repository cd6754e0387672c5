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
}

type ServiceSelector = { selector: Record<string, string> } | 'absent' | 'no-selector';
type PodCounts = { running: number; ready: number } | undefined;

export class KubeWorkloadReader implements WorkloadReader {
  private readonly api: CoreV1Api;
  private readonly agents = new KeepAliveAgents();
  private readonly services: SharedReads<ServiceSelector>;
  private readonly pods: SharedReads<PodCounts>;

  constructor(options: KubeWorkloadOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    const now = options.now ?? Date.now;
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.services = new SharedReads(options.cacheTtlMs, maxEntries, now);
    this.pods = new SharedReads(options.cacheTtlMs, maxEntries, now);
  }

  async summary(query: WorkloadQuery, options: WorkloadReadOptions): Promise<WorkloadSummary | undefined> {
    const readAfterMs = options.readAfterMs ?? -Infinity;
    const service = await this.services.get(`${query.namespace}/${query.service}`, readAfterMs, () => this.readService(query.namespace, query.service, options.deadlineMs));
    // Endpoints of a selector-less Service are managed by hand: pods say nothing about them.
    if (service === 'no-selector') return undefined;
    const selector = podSelector(query.labels, service === 'absent' ? undefined : service.selector);
    if (selector === 'conflict') return { source: 'pods', running: 0, ready: 0 };
    if (selector === undefined) return undefined;
    const labelSelector = selectorString(selector);
    const counts = await this.pods.get(`${query.namespace}\n${labelSelector}`, readAfterMs, () => this.listPods(query.namespace, labelSelector, options.deadlineMs));
    return counts && { source: 'pods', ...counts };
  }

  close(): void {
    this.agents.close();
  }

  private async readService(namespace: string, name: string, deadlineMs: number): Promise<ServiceSelector> {
    try {
      const service = await this.api.readNamespacedService({ name, namespace }, requestOptions(remaining(deadlineMs), undefined, undefined, this.agents));
      const selector = labelSelectorOf(service.spec?.selector);
      return selector && Object.keys(selector).length > 0 ? { selector } : 'no-selector';
    } catch (error) {
      if (httpStatusOf(error) === 404) return 'absent';
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
