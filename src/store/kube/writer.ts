// Conflict-safe subset writes (SPEC §2): plan from the watch-fed cache, then
// create (POST) or JSON Patch whose first op tests /metadata/resourceVersion
// (or delete a companion with a resourceVersion precondition): one API call
// per new subset on the happy path. A conflict (409, 422 from the failed
// test, 404 for a rule deleted meanwhile) means the cache was behind or
// someone else wrote first: only then re-list the namespace, re-plan and
// retry with jittered backoff until the deadline. No update can be lost: a
// patch applies only to the exact version it was computed from.
//
// Group commit: requests for one service that arrive while a write for it is
// in flight wait, then go together — one read, every subset planned onto the
// same copy, one write. 50 canaries at once cost a handful of writes instead
// of 50 sequential ones or a storm of conflicts. Other replicas are still
// kept out by the resourceVersion test. Each request keeps its own deadline.
import type { Logger } from 'pino';
import { diffPatch, type Operation } from '../../rules/patch.js';
import { planSubset } from '../../rules/subset-plan.js';
import type { DestinationRule, RuleSettings, SubsetRequest } from '../../rules/types.js';
import type { HostIndex } from '../host-index.js';
import { planInputFor } from '../plan-input.js';
import type { PlanInput } from '../../rules/subset-plan.js';
import type { EnsureSubsetResult } from '../types.js';
import type { DestinationRuleCache } from './cache.js';
import { describeError, httpStatusOf, type DestinationRuleClient } from './client.js';
import { backoffDelay, Sleeper } from './retry.js';

export type WriteResult = 'created' | 'appended' | 'deleted' | 'present' | 'conflict' | 'error';

export interface SubsetWriteRetry {
  /** Ceiling of the first retry delay (full jitter below it); default 10 ms. */
  baseDelayMs?: number;
  /** Cap on one retry delay; default 100 ms (group commit leaves few writers to spread out). */
  maxDelayMs?: number;
  /** Cap on one API request (also never past the deadline); default 2,000 ms. */
  requestTimeoutMs?: number;
  /** Group concurrent requests for one service into one write (default true); false: each request retries on its own. */
  serialize?: boolean;
}

export interface WriterOptions {
  client: DestinationRuleClient;
  cache: DestinationRuleCache;
  index: HostIndex;
  settings: RuleSettings;
  logger: Logger;
  retry?: SubsetWriteRetry;
  /** Called with each API write's result, and with 'present' for each request that needed no write. */
  onWrite?: (result: WriteResult) => void;
}

interface Entry {
  request: SubsetRequest;
  deadlineMs: number;
  attempts: number;
  /** Why the last attempt did not finish, for the deadline's message. */
  problem?: string;
  settled: boolean;
  settle(result: EnsureSubsetResult): void;
}

/** One DestinationRule to write in a round, and the requests it answers. */
interface Group {
  key: string;
  original: DestinationRule | undefined;
  /** null: delete the original (a companion left with nothing of its own). */
  final: DestinationRule | null;
  answers: Array<{ entry: Entry; outcome: 'created' | 'appended' | 'present'; warnings: string[] }>;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
/** How long a conflict makes a namespace's writes read first. */
const CONTENTION_MEMORY_MS = 2_000;
const keyOf = (rule: DestinationRule): string => `${rule.metadata.namespace}/${rule.metadata.name}`;

export class SubsetWriter {
  private readonly queues = new Map<string, Entry[]>();
  private readonly sleeper = new Sleeper();
  private readonly retry: Required<SubsetWriteRetry>;
  private readonly live = new Set<Entry>();
  /**
   * Namespaces whose last write conflicted, until when: another writer (a
   * second replica) is active there, so the cache is likely behind and the
   * next batch reads first, as a conflict would make it do anyway.
   */
  private readonly contended = new Map<string, number>();
  /** Aborts requests in flight on close. */
  private readonly stopSignal = new AbortController();
  private closed = false;

  constructor(private readonly options: WriterOptions) {
    this.retry = { baseDelayMs: 10, maxDelayMs: 100, requestTimeoutMs: 2_000, serialize: true, ...options.retry };
  }

  async ensureSubset(request: SubsetRequest, deadlineMs: number): Promise<EnsureSubsetResult> {
    try {
      const plan = planSubset(request, planInputFor(this.options.index, request), this.options.settings);
      if (plan.action === 'none' && plan.warnings.length === 0) {
        // The cache already shows the subset with the same labels: no API call.
        this.options.onWrite?.('present');
        return { outcome: 'present', destinationRule: plan.destinationRule, warnings: [], attempts: 0 };
      }
      if (plan.action === 'refuse') return { outcome: 'refused', reason: plan.reason, attempts: 0 };
    } catch (err) {
      return { outcome: 'failed', reason: `subset ${request.subsetName} of ${request.host}: ${describeError(err)}`, attempts: 0 };
    }
    if (this.closed) return { outcome: 'failed', reason: 'the store is shutting down', attempts: 0 };
    return new Promise((resolve) => {
      const entry: Entry = { request, deadlineMs, attempts: 0, settled: false, settle: (result) => finish(result) };
      // Every request answers by its own deadline, even if its group is still working.
      const timer = setTimeout(() => finish(this.failure(entry, `not written by the deadline${entry.problem ? `; last: ${entry.problem}` : ''}`)), Math.max(0, deadlineMs - Date.now()));
      const finish = (result: EnsureSubsetResult): void => {
        if (entry.settled) return;
        entry.settled = true;
        clearTimeout(timer);
        this.live.delete(entry);
        resolve(result);
      };
      this.live.add(entry);
      if (!this.retry.serialize) void this.run([entry], true);
      else this.enqueue(`${request.namespace}/${request.host}`, entry);
    });
  }

  private markContended(namespace: string): void {
    const now = Date.now();
    // Bounded: namespaces come from admission requests.
    if (this.contended.size >= 1_000) for (const [key, until] of this.contended) if (until <= now) this.contended.delete(key);
    if (this.contended.size < 1_000) this.contended.set(namespace, now + CONTENTION_MEMORY_MS);
  }

  /** Answer every waiting request as failed and cut retry sleeps short. */
  close(): void {
    this.closed = true;
    this.stopSignal.abort();
    this.sleeper.cancelAll();
    for (const entry of [...this.live]) entry.settle(this.failure(entry, 'the store is shutting down'));
  }

  private enqueue(key: string, entry: Entry): void {
    const waiting = this.queues.get(key);
    if (waiting) return void waiting.push(entry);
    this.queues.set(key, [entry]);
    void this.drain(key);
  }

  /** While requests wait for `key`, take them all and write them as one group. */
  private async drain(key: string): Promise<void> {
    for (;;) {
      const batch = (this.queues.get(key) ?? []).filter((e) => !e.settled);
      if (batch.length === 0) return void this.queues.delete(key);
      this.queues.set(key, []);
      await this.run(batch, true);
    }
  }

  /** Rounds of read → plan → write until every entry is answered. Never rejects. */
  private async run(entries: Entry[], mayGroup: boolean): Promise<void> {
    const { client, cache, settings } = this.options;
    const namespace = entries[0]!.request.namespace;
    let lastProblem = '';
    // Before the first full list the cache knows nothing, and under contention it lags: read first then.
    let relist = !cache.isSynced() || (this.contended.get(namespace) ?? 0) > Date.now();
    const rejectedAt = new Map<string, string | undefined>();
    try {
      for (let round = 0; ; round++) {
        if (round > 0) {
          const delay = backoffDelay(round - 1, { baseMs: this.retry.baseDelayMs, maxMs: this.retry.maxDelayMs, jitter: 'full' });
          await this.sleeper.sleep(Math.min(delay, Math.max(...entries.map((e) => e.deadlineMs)) - Date.now()));
        }
        const live = entries.filter((e) => !e.settled);
        if (live.length === 0) return;
        const timeoutMs = Math.min(this.retry.requestTimeoutMs, Math.max(...live.map((e) => e.deadlineMs)) - Date.now());
        if (this.closed || timeoutMs <= 0) {
          for (const entry of live) entry.settle(this.failure(entry, this.closed ? 'the store is shutting down' : `not written by the deadline; last: ${lastProblem}`));
          return;
        }
        live.forEach((entry) => (entry.attempts += 1));
        if (relist) {
          // Only after a conflict: the cache was behind, so read the namespace as it is now.
          try {
            const listed = await client.list(namespace, timeoutMs, this.stopSignal.signal);
            cache.replaceNamespace(namespace, listed.items, listed.resourceVersion);
            relist = false;
          } catch (err) {
            lastProblem = `reading DestinationRules of ${namespace}: ${describeError(err)}`;
            live.forEach((entry) => (entry.problem = lastProblem));
            if (isRetryable(httpStatusOf(err))) continue;
            for (const entry of live) entry.settle(this.failure(entry, lastProblem + hint(err)));
            return;
          }
        }
        const groups = this.plan(live, settings);
        let again = false;
        for (const group of groups) {
          const outcome = await this.write(group, timeoutMs, rejectedAt, mayGroup);
          if (outcome.retry) {
            lastProblem = outcome.problem;
            group.answers.forEach(({ entry }) => (entry.problem = outcome.problem));
            again = true;
            if (outcome.conflict) {
              relist = true;
              this.markContended(namespace);
            }
          }
        }
        if (!again) return;
      }
    } catch (err) {
      for (const entry of entries) entry.settle(this.failure(entry, describeError(err)));
    }
  }

  /**
   * Plan every entry onto one evolving copy of the cached rules (the ones
   * this round writes overlay the cache); answer at once those with nothing to do.
   */
  private plan(live: Entry[], settings: RuleSettings): Group[] {
    const overlay = new Map<string, DestinationRule | null>();
    const groups = new Map<string, Group>();
    for (const entry of live) {
      const plan = planSubset(entry.request, this.inputWith(overlay, entry.request), settings);
      if (plan.action === 'refuse') {
        entry.settle({ outcome: 'refused', reason: plan.reason, attempts: entry.attempts });
        continue;
      }
      if (plan.action === 'none') {
        const group = groups.get(keyOf(plan.destinationRule));
        // Present only in a copy this round has yet to write: answered with that write.
        if (group) group.answers.push({ entry, outcome: 'present', warnings: plan.warnings });
        else {
          this.options.onWrite?.('present');
          entry.settle({ outcome: 'present', destinationRule: plan.destinationRule, warnings: plan.warnings, attempts: entry.attempts });
        }
        continue;
      }
      const next = plan.action === 'create' ? plan.destinationRule : plan.action === 'append' ? plan.updated : null;
      const key = keyOf(plan.action === 'create' ? plan.destinationRule : plan.original);
      const outcome = plan.action === 'create' ? 'created' : plan.action === 'append' && !plan.present ? 'appended' : 'present';
      const group = groups.get(key) ?? { key, original: plan.action === 'create' ? undefined : plan.original, final: next, answers: [] };
      group.final = next;
      group.answers.push({ entry, outcome, warnings: plan.warnings });
      groups.set(key, group);
      overlay.set(key, next);
    }
    return [...groups.values()];
  }

  /** The planner's view: the cache, with this round's pending writes laid over it. */
  private inputWith(overlay: ReadonlyMap<string, DestinationRule | null>, request: SubsetRequest): PlanInput {
    const { index } = this.options;
    const base = planInputFor(index, request);
    if (overlay.size === 0) return base;
    const pending = [...overlay.values()].filter((rule): rule is DestinationRule => rule !== null);
    return {
      candidates: [...base.candidates.filter((rule) => !overlay.has(keyOf(rule))), ...pending],
      isNameTaken: (name) => {
        const key = `${request.namespace}/${name}`;
        return overlay.has(key) ? overlay.get(key) !== null : base.isNameTaken(name);
      },
    };
  }

  /** One create or patch; answers the group's entries unless the round must be retried. */
  private async write(group: Group, timeoutMs: number, rejectedAt: Map<string, string | undefined>, mayGroup: boolean): Promise<{ retry: false } | { retry: true; problem: string; conflict: boolean }> {
    const { client, cache, onWrite, logger, index } = this.options;
    const version = group.original?.metadata.resourceVersion;
    const verb = !group.original ? 'creating' : group.final ? 'patching' : 'deleting';
    const entries = group.answers.map((a) => a.entry);
    if (entries.every((entry) => entry.settled)) return { retry: false }; // all past their deadline: do not write for nobody
    if (group.original && !version) return this.give(entries, `DestinationRule ${group.key} as read has no resourceVersion`);
    if (group.original && rejectedAt.has(group.key) && rejectedAt.get(group.key) === version) {
      // The same version was rejected with 422 before: not a failed test but an invalid object.
      return this.giveUpOrSplit(group, `the API server rejected the patch of ${group.key}`, mayGroup);
    }
    try {
      if (group.original && !group.final) {
        const { namespace, name } = group.original.metadata;
        await client.delete(namespace, name, version!, timeoutMs, this.stopSignal.signal);
        index.delete(namespace, name);
        onWrite?.('deleted');
        logger.info({ destinationRule: group.key, verb }, 'companion DestinationRule deleted: user rules define all its subsets');
        for (const { entry, warnings } of group.answers) entry.settle({ outcome: 'present', destinationRule: group.original, warnings, attempts: entry.attempts });
        return { retry: false };
      }
      const final = group.final!;
      const written = group.original
        ? await client.jsonPatch(group.original.metadata.namespace, group.original.metadata.name, patchOf(group.original, final), timeoutMs, this.stopSignal.signal)
        : await client.create(final, timeoutMs, this.stopSignal.signal);
      cache.observe(written);
      onWrite?.(group.original ? 'appended' : 'created');
      logger.info({ destinationRule: group.key, subsets: group.answers.map((a) => a.entry.request.subsetName), verb }, 'DestinationRule subsets written');
      for (const { entry, outcome, warnings } of group.answers) entry.settle({ outcome, destinationRule: written, warnings, attempts: entry.attempts });
      return { retry: false };
    } catch (err) {
      const status = httpStatusOf(err);
      const problem = `${verb} ${group.key}: ${describeError(err)}`;
      const conflict = status === 409 || (group.original !== undefined && (status === 422 || status === 404));
      onWrite?.(conflict ? 'conflict' : 'error');
      if (status === 422) rejectedAt.set(group.key, version);
      if (conflict || isRetryable(status)) {
        logger.debug({ destinationRule: group.key, problem }, 'DestinationRule write will be retried');
        return { retry: true, problem, conflict };
      }
      return status === 401 || status === 403 ? this.give(entries, problem + hint(err)) : this.giveUpOrSplit(group, problem, mayGroup);
    }
  }

  /** An error that retrying will not cure: alone, the request fails; grouped, each request gets its own try so one bad subset cannot sink the rest. */
  private async giveUpOrSplit(group: Group, problem: string, mayGroup: boolean): Promise<{ retry: false }> {
    const entries = group.answers.map((a) => a.entry);
    if (!mayGroup || entries.length === 1) return this.give(entries, problem);
    for (const entry of entries) await this.run([entry], false);
    return { retry: false };
  }

  private give(entries: Entry[], problem: string): { retry: false } {
    for (const entry of entries) entry.settle(this.failure(entry, problem));
    return { retry: false };
  }

  private failure(entry: Entry, problem: string): EnsureSubsetResult {
    return { outcome: 'failed', reason: `subset ${entry.request.subsetName} of ${entry.request.host}: ${problem}`, attempts: entry.attempts };
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
  return status === 401 || status === 403 ? ' (the service account needs get/list/create/patch/delete on destinationrules.networking.istio.io)' : '';
}
