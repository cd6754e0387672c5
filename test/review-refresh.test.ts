// Shared direct reads before a missing-subset denial: concurrent reviews may
// share a read, but never one sent before they looked at their cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refreshNamespacesShared } from '../src/server/review-refresh.js';
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
});
