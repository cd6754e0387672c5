// The cache recovers from everything a watch can do: drop, 410 Gone (as an
// ERROR event or an HTTP status), go silent, or fail outright; changes made
// meanwhile and afterwards are seen.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connectKubeStore, type KubeStore } from '../src/store/kube/kube-store.js';
import { FakeApiServer } from './support/fake-apiserver.js';
import { memoryLogger, rule, settings, waitFor } from './support/kube-fixtures.js';

const fqdn = (service: string): string => `${service}.default.svc.cluster.local`;
const listPath = '/apis/networking.istio.io/v1/destinationrules';

describe('KubeStore watch recovery', () => {
  let fake: FakeApiServer;
  let store: KubeStore | undefined;
  let logs: Array<Record<string, unknown>>;

  const start = async (watchSilenceTimeoutMs = 300_000): Promise<KubeStore> => {
    const { logger, lines } = memoryLogger();
    logs = lines;
    store = await connectKubeStore({ kubeConfig: fake.kubeConfig(), settings, logger, watchSilenceTimeoutMs, watchBackoff: { baseMs: 20, maxMs: 200 } });
    assert.equal(await store.waitForSync(2_000), true);
    fake.put('destinationrules', rule('default', 'before', 'before'));
    await waitFor('the watch to be live', () => store!.candidatesForHost(fqdn('before')).length === 1);
    return store;
  };
  const sees = (service: string, timeoutMs = 3_000): Promise<boolean> =>
    waitFor(`the cache to see ${service}`, () => store!.candidatesForHost(fqdn(service)).length === 1, timeoutMs);
  const lists = (): number => fake.count({ method: 'GET', path: listPath, watch: false });

  beforeEach(async () => {
    fake = new FakeApiServer();
    await fake.start();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await fake.stop();
  });

  it('re-watches after the connection drops, from where it was (no relist)', async () => {
    await start();
    const opened = fake.watches.opened;
    fake.watches.dropAll();
    fake.put('destinationrules', rule('default', 'during', 'during'));
    await sees('during');
    assert.ok(fake.watches.opened > opened);
    assert.equal(lists(), 1, 'the resourceVersion was still good: no relist');
    fake.put('destinationrules', rule('default', 'after', 'after'));
    await sees('after');
  });

  for (const goneAs of ['event', 'status'] as const) {
    it(`relists on 410 Gone sent as ${goneAs === 'event' ? 'an ERROR event' : 'an HTTP status'}`, async () => {
      fake.watches.goneAs = goneAs;
      await start();
      fake.watches.silence(false); // the open watch misses what follows
      fake.put('destinationrules', rule('default', 'missed', 'missed'));
      fake.objects.remove('destinationrules', 'default', 'before');
      fake.compact();
      fake.watches.dropAll(); // the re-watch from the old resourceVersion gets 410
      await sees('missed');
      await waitFor('the deleted rule to go', () => store!.candidatesForHost(fqdn('before')).length === 0);
      assert.equal(lists(), 2, 'one relist after 410');
      assert.ok(logs.some((l) => /410 Gone/.test(String(l.msg))));
      fake.put('destinationrules', rule('default', 'after', 'after'));
      await sees('after');
    });
  }

  it('restarts a watch that goes silent (no event, no bookmark)', async () => {
    await start(300);
    const opened = fake.watches.opened;
    fake.watches.silence(false);
    fake.put('destinationrules', rule('default', 'quiet', 'quiet'));
    await sees('quiet', 3_000);
    assert.ok(fake.watches.opened > opened);
    assert.ok(logs.some((l) => /went silent/.test(String(l.msg))));
    fake.put('destinationrules', rule('default', 'after', 'after'));
    await sees('after');
  });

  it('keeps a healthy quiet watch open: bookmarks count as life', async () => {
    await start(300);
    const opened = fake.watches.opened;
    await new Promise((resolve) => setTimeout(resolve, 900));
    assert.equal(fake.watches.opened, opened, 'bookmarks every 100 ms keep a 300 ms silence timer from firing');
  });

  it('keeps retrying, with backoff, a watch the server refuses (client-node 1.4 would stop)', async () => {
    await start();
    fake.failNext({ method: 'GET', path: listPath, watch: true, status: 500, count: 4 });
    fake.watches.dropAll();
    fake.put('destinationrules', rule('default', 'later', 'later'));
    await sees('later', 5_000);
    assert.equal(fake.injected.get(500), 4);
    assert.ok(logs.filter((l) => /watch failed/.test(String(l.msg))).length >= 4);
  });
});
