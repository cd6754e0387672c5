// Shared direct reads before a missing-subset denial: concurrent reviews may
// share a read, but never one sent before they looked at their cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectReads } from '../src/server/review-refresh.js';
import type { DestinationRuleStore } from '../src/store/types.js';

interface Read { namespaces: readonly string[]; resolve(): void; reject(error: Error): void }

function fakeStore(): { store: DestinationRuleStore; reads: Read[] } {
  const reads: Read[] = [];
  const store = {
    refreshNamespaces(namespaces: readonly string[]): Promise<void> {
      return new Promise<void>((resolve, reject) => reads.push({ namespaces, resolve, reject }));
    },
  } as unknown as DestinationRuleStore;
  return { store, reads };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What the old module-level function did, now through one DirectReads per store. */
const shared = new WeakMap<DestinationRuleStore, DirectReads>();
function refreshNamespacesShared(store: DestinationRuleStore, namespaces: readonly string[]): Promise<unknown> {
  let reads = shared.get(store);
  if (!reads) shared.set(store, (reads = new DirectReads(store, { maxNamespacesPerReview: 16 })));
  return reads.refresh(namespaces);
}

describe('refreshNamespacesShared', () => {
  it('reads each namespace once for one caller', async () => {
    const { store, reads } = fakeStore();
    const done = refreshNamespacesShared(store, ['a', 'b', 'a', '']);
    await tick();
    assert.deepEqual(reads.map((read) => read.namespaces), [['a'], ['b']]);
    reads.forEach((read) => read.resolve());
    await done;
  });

  it('a caller arriving during a read waits for a new read; later callers share that one', async () => {
    const { store, reads } = fakeStore();
    let firstDone = false;
    let secondDone = false;
    const first = refreshNamespacesShared(store, ['a']).then(() => (firstDone = true));
    await tick();
    const second = refreshNamespacesShared(store, ['a']).then(() => (secondDone = true));
    const third = refreshNamespacesShared(store, ['a']);
    await tick();
    assert.equal(reads.length, 1, 'the second read starts only when the first is answered');
    reads[0]!.resolve();
    await first;
    await tick();
    assert.equal(firstDone, true);
    assert.equal(secondDone, false, 'the first read was sent before the second caller looked at its cache');
    assert.equal(reads.length, 2, 'one more read for both later callers');
    reads[1]!.resolve();
    await Promise.all([second, third]);
    assert.equal(reads.length, 2);
  });

  it('passes failures on, and a failed read does not block the next one', async () => {
    const { store, reads } = fakeStore();
    const failing = refreshNamespacesShared(store, ['a', 'b']);
    await tick();
    reads[0]!.reject(new Error('cannot re-read DestinationRules from the API server (a: refused)'));
    reads[1]!.resolve();
    await assert.rejects(failing, /a: refused/);
    const next = refreshNamespacesShared(store, ['a']);
    await tick();
    assert.equal(reads.length, 3);
    reads[2]!.resolve();
    await next;
  });

  it('reads at most maxNamespacesPerReview namespaces, the first ones given, and never a name that is not a namespace', async () => {
    const { store, reads } = fakeStore();
    const directReads = new DirectReads(store, { maxNamespacesPerReview: 3 });
    const done = directReads.refresh(['shop', '..', 'istio-system', 'a/b', 'tenant-1', 'tenant-2', 'tenant-3']);
    await tick();
    assert.deepEqual(reads.map((read) => read.namespaces), [['shop'], ['istio-system'], ['tenant-1']]);
    reads.forEach((read) => read.resolve());
    assert.deepEqual(await done, { read: ['shop', 'istio-system', 'tenant-1'], skipped: 4 });
  });

  it('two apps on one store do not share reads (the state is per DirectReads, not per process)', async () => {
    const { store, reads } = fakeStore();
    const one = new DirectReads(store, { maxNamespacesPerReview: 16 }).refresh(['a']);
    const two = new DirectReads(store, { maxNamespacesPerReview: 16 }).refresh(['a']);
    await tick();
    assert.equal(reads.length, 2);
    reads.forEach((read) => read.resolve());
    await Promise.all([one, two]);
  });
});
