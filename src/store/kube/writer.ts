// Conflict-safe subset writes (SPEC §2): read the namespace's rules from the
// API server, plan, then create (POST) or JSON Patch whose first op tests
// /metadata/resourceVersion. A conflict (409, 422 from the failed test, 404
// for a rule deleted meanwhile) means someone else wrote first: re-read and
// retry with jittered backoff until the deadline. No update can be lost: a
// patch applies only to the exact version it was computed from.
//
// Writes to one DestinationRule from this process also queue behind each
// other (optimistic concurrency still guards against other replicas), so a
// burst of canaries of one service costs one read and one write each
// instead of a storm of conflicts.
import type { Logger } from 'pino';
import { diffPatch, type Operation } from '../../rules/patch.js';
import { planSubset } from '../../rules/subset-plan.js';
import type { DestinationRule, RuleSettings, SubsetPlan, SubsetRequest } from '../../rules/types.js';
import type { HostIndex } from '../host-index.js';
import type { EnsureSubsetResult } from '../types.js';
import type { DestinationRuleCache } from './cache.js';
import { describeError, httpStatusOf, type DestinationRuleClient } from './client.js';
import { backoffDelay, Sleeper } from './retry.js';

export type WriteResult = 'created' | 'appended' | 'present' | 'conflict' | 'error';

export interface SubsetWriteRetry {
  /** Ceiling of the first retry delay (full jitter below it); default 20 ms. */
  baseDelayMs?: number;
  /** Cap on one retry delay; default 250 ms. */
  maxDelayMs?: number;
  /** Cap on one API request (also never past the deadline); default 2,000 ms. */
  requestTimeoutMs?: number;
  /** Queue this process's writes to one DestinationRule; default true. */
  serialize?: boolean;
}

export interface WriterOptions {
  client: DestinationRuleClient;
  cache: DestinationRuleCache;
  index: HostIndex;
  settings: RuleSettings;
  logger: Logger;
  retry?: SubsetWriteRetry;
  /** Called once per write attempt's result, and with 'present' when nothing needed writing. */
  onWrite?: (result: WriteResult) => void;
}

type Failed = Extract<EnsureSubsetResult, { outcome: 'failed' }>;
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export class SubsetWriter {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly sleeper = new Sleeper();
  private readonly retry: Required<SubsetWriteRetry>;
  private closed = false;

  constructor(private readonly options: WriterOptions) {
    this.retry = { baseDelayMs: 20, maxDelayMs: 250, requestTimeoutMs: 2_000, serialize: true, ...options.retry };
  }

  async ensureSubset(request: SubsetRequest, deadlineMs: number): Promise<EnsureSubsetResult> {
    try {
      const cached = this.fromCache(request);
      if (cached) return cached;
      if (!this.retry.serialize) return await this.write(request, deadlineMs);
      return await this.queued(`${request.namespace}/${request.host}`, () => this.fromCache(request) ?? this.write(request, deadlineMs));
    } catch (err) {
      this.options.onWrite?.('error');
      return { outcome: 'failed', reason: `subset ${request.subsetName} of ${request.host}: ${describeError(err)}`, attempts: 0 };
    }
  }

  close(): void {
    this.closed = true;
    this.sleeper.cancelAll();
  }

  /** The cache already shows the subset with the same labels: nothing to write, no API call. */
  private fromCache(request: SubsetRequest): EnsureSubsetResult | undefined {
    const plan = planSubset(request, this.options.index.inNamespace(request.namespace), this.options.settings);
    if (plan.action !== 'none' || plan.warnings.length > 0) return undefined;
    this.options.onWrite?.('present');
    return { outcome: 'present', destinationRule: plan.destinationRule, warnings: [], attempts: 0 };
  }

  private queued<T>(key: string, task: () => Promise<T> | T): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  private async write(request: SubsetRequest, deadlineMs: number): Promise<EnsureSubsetResult> {
    const { client, cache, settings, onWrite, logger } = this.options;
    const what = `subset ${request.subsetName} of ${request.host}`;
    let attempt = 0;
    let lastProblem: string | undefined;
    /** resourceVersion a patch was rejected with 422 at: seeing it again means the 422 was not a failed test. */
    let rejectedAt: string | undefined;
    for (;;) {
      if (attempt > 0) await this.sleeper.sleep(Math.min(backoffDelay(attempt - 1, { baseMs: this.retry.baseDelayMs, maxMs: this.retry.maxDelayMs, jitter: 'full' }), deadlineMs - Date.now()));
      if (this.closed) return failed(attempt, `${what}: the store is shutting down`);
      const timeoutMs = Math.min(this.retry.requestTimeoutMs, deadlineMs - Date.now());
      if (timeoutMs <= 0) {
        return failed(attempt, `${what} not written by the deadline after ${attempt} attempt(s)${lastProblem ? `; last: ${lastProblem}` : ''}`);
      }
      attempt += 1;
      let plan: SubsetPlan;
      try {
        const { items, resourceVersion } = await client.list(request.namespace, timeoutMs);
        cache.replaceNamespace(request.namespace, items, resourceVersion);
        plan = planSubset(request, items, settings);
      } catch (err) {
        lastProblem = `reading DestinationRules of ${request.namespace}: ${describeError(err)}`;
        if (isRetryable(httpStatusOf(err))) continue;
        return failed(attempt, `${what}: ${lastProblem}${hint(err)}`);
      }
      if (plan.action === 'none') {
        onWrite?.('present');
        return { outcome: 'present', destinationRule: plan.destinationRule, warnings: plan.warnings, attempts: attempt };
      }
      const target = plan.action === 'create' ? plan.destinationRule : plan.original;
      const ref = `${target.metadata.namespace}/${target.metadata.name}`;
      const version = plan.action === 'append' ? plan.original.metadata.resourceVersion : undefined;
      if (plan.action === 'append' && !version) return failed(attempt, `${what}: DestinationRule ${ref} as read has no resourceVersion`);
      if (version !== undefined && version === rejectedAt) return failed(attempt, `${what}: the API server rejected the patch of ${ref}: ${lastProblem}`);
      try {
        const written = plan.action === 'create' ? await client.create(plan.destinationRule, timeoutMs) : await client.jsonPatch(target.metadata.namespace, target.metadata.name, patchOf(plan.original, plan.updated), timeoutMs);
        cache.observe(written);
        const outcome = plan.action === 'create' ? 'created' : 'appended';
        onWrite?.(outcome);
        logger.info({ destinationRule: ref, subset: request.subsetName, outcome, attempts: attempt }, 'DestinationRule subset written');
        return { outcome, destinationRule: written, warnings: plan.warnings, attempts: attempt };
      } catch (err) {
        const status = httpStatusOf(err);
        lastProblem = `${plan.action === 'create' ? 'creating' : 'patching'} ${ref}: ${describeError(err)}`;
        const conflict = status === 409 || (plan.action === 'append' && (status === 422 || status === 404));
        onWrite?.(conflict ? 'conflict' : 'error');
        if (status === 422) rejectedAt = version;
        if (conflict || isRetryable(status)) {
          logger.debug({ destinationRule: ref, subset: request.subsetName, attempt, problem: lastProblem }, 'DestinationRule write will be retried');
          continue;
        }
        return failed(attempt, `${what}: ${lastProblem}${hint(err)}`);
      }
    }
  }
}

/** The optimistic-concurrency precondition first, then the minimal diff. */
function patchOf(original: DestinationRule, updated: DestinationRule): Operation[] {
  return [{ op: 'test', path: '/metadata/resourceVersion', value: original.metadata.resourceVersion }, ...diffPatch(original, updated)];
}

/** No answer at all (refused, reset, timed out) or a transient status. */
function isRetryable(status: number | undefined): boolean {
  return status === undefined || RETRYABLE.has(status);
}

function hint(err: unknown): string {
  const status = httpStatusOf(err);
  return status === 401 || status === 403 ? ' (the service account needs get/list/create/patch on destinationrules.networking.istio.io)' : '';
}

function failed(attempts: number, reason: string): Failed {
  return { outcome: 'failed', reason, attempts };
}
