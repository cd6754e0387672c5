// SPEC §10 in /validate: after the subset check admits a VirtualService, look
// up (shared, cached, capped) what each subset that gets traffic selects, and
// warn or deny when it selects no ready pod. Never delays a review past its
// share of the webhook timeout: past it the check is skipped and logged.
import { isReady, readinessFindings, readinessQueriesFrom, type ReadinessQuery, type WorkloadSummary } from '../rules/readiness.js';
import type { ReferenceTable } from '../rules/reference-table.js';
import { clip } from '../rules/text.js';
import type { Problem } from '../rules/types.js';
import type { WorkloadReader } from '../store/workloads.js';
import type { AppDeps } from './deps.js';

/** Less time than this left: do not start reads that cannot finish. */
const MIN_BUDGET_MS = 20;

export interface ReadinessOutcome {
  /** The first MAX_PROBLEM_LINES, in path order. */
  problems: Problem[];
  problemCount: number;
  warnings: string[];
}

const nothing: ReadinessOutcome = { problems: [], problemCount: 0, warnings: [] };

/**
 * What the check will look up, from the validation walk's references (no
 * second walk, and no object needed: a review that waited on the direct read
 * has let its object go).
 */
export function readinessQueriesOf(references: ReferenceTable, namespace: string, deps: AppDeps): ReadinessQuery[] {
  if (!deps.readiness || deps.settings.readyPolicy === 'off') return [];
  return readinessQueriesFrom(references, namespace, (host) => deps.store.candidatesForHost(host), deps.settings);
}

/** `startedMs` is when the review began: the check's budget runs from there. */
export async function checkReadiness(all: readonly ReadinessQuery[], requestUid: string, startedMs: number, deps: AppDeps): Promise<ReadinessOutcome> {
  const uid = clip(requestUid, 256);
  const readiness = deps.readiness;
  const policy = deps.settings.readyPolicy;
  if (!readiness || policy === 'off' || all.length === 0) return nothing;
  const queries = all.slice(0, readiness.maxReads);
  if (all.length > queries.length) {
    deps.logger.info({ uid, subsets: all.length, checked: queries.length }, 'readiness check limited by --max-ready-reads; the other subsets were not looked at');
  }
  // The common case: every answer is cached, so no promise, timer or read.
  const cached = cachedSummaries(queries, readiness.reader);
  if (cached && (policy !== 'deny' || [...cached.values()].every((summary) => !summary || isReady(summary)))) {
    return readinessFindings(queries, (query) => cached.get(query.key), policy);
  }
  const deadlineMs = startedMs + readiness.timeoutMs;
  if (deadlineMs - Date.now() < MIN_BUDGET_MS) {
    deps.logger.info({ uid, subsets: queries.length }, 'readiness check skipped: the review deadline is too close');
    return nothing;
  }

  const summaries = new Map<string, WorkloadSummary | undefined>();
  const lookUp = async (targets: readonly ReadinessQuery[], readAfterMs?: number): Promise<void> => {
    const results = await Promise.allSettled(targets.map((query) => readiness.reader.summary(query, { deadlineMs, readAfterMs })));
    results.forEach((result, index) => {
      const query = targets[index]!;
      if (result.status === 'fulfilled') return void summaries.set(query.key, result.value);
      summaries.delete(query.key);
      deps.logger.warn({ uid, namespace: query.namespace, service: query.service, subset: query.subset, err: (result.reason as Error)?.message }, 'readiness read failed; subset not checked');
    });
  };
  const work = (async () => {
    await lookUp(queries);
    if (policy !== 'deny') return;
    // No denial from a stale cache: "none ready" is confirmed by a read sent after this review began.
    const negative = queries.filter((query) => {
      const summary = summaries.get(query.key);
      return summary !== undefined && !isReady(summary);
    });
    if (negative.length > 0) await lookUp(negative, startedMs);
  })();
  if (!(await withinDeadline(work, deadlineMs))) {
    deps.logger.info({ uid, subsets: queries.length, timeoutMs: readiness.timeoutMs }, 'readiness check skipped: pod reads did not answer before the review deadline');
    return nothing;
  }
  return readinessFindings(queries, (query) => summaries.get(query.key), policy);
}

function cachedSummaries(queries: readonly ReadinessQuery[], reader: WorkloadReader): Map<string, WorkloadSummary | undefined> | undefined {
  if (!reader.cached) return undefined;
  const summaries = new Map<string, WorkloadSummary | undefined>();
  for (const query of queries) {
    const hit = reader.cached(query);
    if (!hit) return undefined;
    summaries.set(query.key, hit.summary);
  }
  return summaries;
}

/** True when `work` settled before `deadlineMs`; the work itself goes on (its answer fills the cache for later reviews). */
async function withinDeadline(work: Promise<void>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs - Date.now()));
  });
  try {
    return await Promise.race([work.then(() => true as const, () => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}
