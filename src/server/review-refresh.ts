// The direct read before a missing-subset denial (SPEC §3), shared between
// concurrent reviews and capped per review (SPEC §6). Without sharing, N
// reviews denied at once cost N reads of each namespace; without the cap,
// one VirtualService naming 2,000 `svc.tenant-<i>` hosts cost 2,002 LISTs.
//
// A review may only use a read that was sent after it looked at its cache:
// an older read can miss the DestinationRule applied a moment ago. So per
// namespace there is at most one read in flight and one queued behind it; a
// review joins the queued one (it starts later), or queues one if none is.
//
// The state belongs to one app (createApp makes one per store), not to the
// module: two servers in one process (tests, the benchmark) never share it.
import type { Logger } from 'pino';
import { isDns1123Label } from '../rules/names.js';
import type { DestinationRuleStore } from '../store/types.js';
import type { AppDeps } from './deps.js';

interface NamespaceReads {
  running?: Promise<void>;
  queued?: Promise<void>;
}

export interface DirectReadsOptions {
  /** Namespaces one review may re-read; the rest are answered from the cache (and logged). */
  maxNamespacesPerReview: number;
  logger?: Logger;
}

export interface RefreshOutcome {
  /** Namespaces re-read (or joined) for this review. */
  read: string[];
  /** Namespaces left to the cache: past the cap, or not a namespace name at all. */
  skipped: number;
}

export class DirectReads {
  private readonly reads = new Map<string, NamespaceReads>();

  constructor(
    private readonly store: DestinationRuleStore,
    private readonly options: DirectReadsOptions,
  ) {}

  /**
   * `store.refreshNamespaces` for the first `maxNamespacesPerReview` distinct
   * namespaces (callers list the most useful first: the review's own, the
   * root namespace), each read by a request sent after this call. A name
   * that is not a DNS-1123 label is never sent: `..` would become a list of
   * every namespace.
   */
  async refresh(namespaces: readonly string[], uid?: string): Promise<RefreshOutcome> {
    const unique = [...new Set(namespaces)];
    const valid = unique.filter(isDns1123Label);
    const read = valid.slice(0, this.options.maxNamespacesPerReview);
    const skipped = unique.length - read.length;
    if (skipped > 0) {
      this.options.logger?.info(
        { uid, namespaces: unique.length, read: read.length, skipped, invalid: unique.length - valid.length },
        'direct DestinationRule reads capped (--max-direct-reads); the rest answered from the cache',
      );
    }
    const results = await Promise.allSettled(read.map((namespace) => this.freshRead(namespace)));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as Error)?.message ?? String(result.reason)] : []));
    if (failures.length > 0) throw new Error(failures.join('; '));
    return { read, skipped };
  }

  private freshRead(namespace: string): Promise<void> {
    let state = this.reads.get(namespace);
    if (!state) this.reads.set(namespace, (state = {}));
    if (state.queued) return state.queued;
    if (!state.running) return this.start(namespace, state);
    const current = state;
    const queued = current.running!.then(settle, settle).then(() => {
      current.queued = undefined;
      return this.start(namespace, current);
    });
    current.queued = queued;
    return queued;
  }

  private start(namespace: string, state: NamespaceReads): Promise<void> {
    const read = this.store.refreshNamespaces([namespace]);
    state.running = read;
    const done = (): void => {
      if (state.running === read) state.running = undefined;
      if (!state.running && !state.queued && this.reads.get(namespace) === state) this.reads.delete(namespace);
    };
    read.then(done, done);
    return read;
  }
}

function settle(): void {}

/** The app's shared direct reads; createApp always provides them, a caller building deps by hand gets private ones. */
export function directReads(deps: AppDeps): DirectReads {
  return deps.directReads ?? new DirectReads(deps.store, { maxNamespacesPerReview: deps.maxDirectReads ?? 16, logger: deps.logger });
}
