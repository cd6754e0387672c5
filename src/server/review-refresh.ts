// The direct read before a missing-subset denial (SPEC §3), shared between
// concurrent reviews. Without sharing, N reviews denied at once cost N reads
// of each namespace; the API server's latency then caps denials per second.
//
// A review may only use a read that was sent after it looked at its cache:
// an older read can miss the DestinationRule applied a moment ago. So per
// namespace there is at most one read in flight and one queued behind it; a
// review joins the queued one (it starts later), or queues one if none is.
import type { DestinationRuleStore } from '../store/types.js';

interface NamespaceReads {
  running?: Promise<void>;
  queued?: Promise<void>;
}

const byStore = new WeakMap<DestinationRuleStore, Map<string, NamespaceReads>>();

/** `store.refreshNamespaces(namespaces)`, each namespace read by a request sent after this call. */
export async function refreshNamespacesShared(store: DestinationRuleStore, namespaces: readonly string[]): Promise<void> {
  let reads = byStore.get(store);
  if (!reads) byStore.set(store, (reads = new Map()));
  const unique = [...new Set(namespaces.filter((namespace) => namespace !== ''))];
  const results = await Promise.allSettled(unique.map((namespace) => freshRead(store, reads, namespace)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as Error)?.message ?? String(result.reason)] : []));
  if (failures.length > 0) throw new Error(failures.join('; '));
}

function freshRead(store: DestinationRuleStore, reads: Map<string, NamespaceReads>, namespace: string): Promise<void> {
  let state = reads.get(namespace);
  if (!state) reads.set(namespace, (state = {}));
  if (state.queued) return state.queued;
  if (!state.running) return start(store, reads, namespace, state);
  const current = state;
  const queued = current.running!.then(settle, settle).then(() => {
    current.queued = undefined;
    return start(store, reads, namespace, current);
  });
  current.queued = queued;
  return queued;
}

function start(store: DestinationRuleStore, reads: Map<string, NamespaceReads>, namespace: string, state: NamespaceReads): Promise<void> {
  const read = store.refreshNamespaces([namespace]);
  state.running = read;
  const done = (): void => {
    if (state.running === read) state.running = undefined;
    if (!state.running && !state.queued && reads.get(namespace) === state) reads.delete(namespace);
  };
  read.then(done, done);
  return read;
}

function settle(): void {}
