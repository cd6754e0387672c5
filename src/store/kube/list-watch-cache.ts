// One list-then-watch cache for every kind the webhook keeps (DestinationRules,
// VirtualServices, Namespaces): client-go's Reflector feeding an Indexer,
// over client-node's `Watch`.
//
// Why not client-node's makeInformer: in 1.4 its ListWatch never asks for
// bookmarks (no `allowWatchBookmarks`) and has no hook for BOOKMARK events,
// so a quiet-but-healthy watch cannot be told from a dead one; it stops for
// good on any error other than 410; and it keeps its own copy of every
// object next to ours. What this loop adds:
//  - bookmarks requested, and a silence timer: no event or bookmark for
//    `watchSilenceTimeoutMs` → the watch is restarted from the last version;
//  - 410 Gone (HTTP status or ERROR event) → relist at once;
//  - any other error → re-watch after capped, jittered exponential backoff;
//  - writes and direct reads folded in too (`observe`, `replaceNamespace`),
//    never letting an older copy replace a newer one.
// What is stored, and how it is indexed, is the `store` given (HostIndex for
// DestinationRules, ObjectIndex with index functions for the others).
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeError } from './client.js';
import { backoffDelay, Sleeper, type BackoffOptions } from './retry.js';

/** The metadata the cache reads; every Kubernetes object has it. */
export interface Keyed {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

/** Where objects come from: a paged list and the collection path to watch. */
export interface ListSource<T extends Keyed> {
  /** Kind, for log lines (`VirtualService watch went silent`). */
  readonly kind: string;
  /** All-namespaces (or cluster-scoped) collection path, e.g. `/apis/networking.istio.io/v1/virtualservices`. */
  readonly watchPath: string;
  list(namespace: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<{ items: T[]; resourceVersion: string }>;
  /** The object as the cache keeps it, or undefined for junk. */
  convert(raw: unknown): T | undefined;
}

/** The indexer: what the cache folds events into. Cluster-scoped objects use namespace ''. */
export interface ObjectStore<T extends Keyed> {
  get(namespace: string, name: string): T | undefined;
  upsert(object: T): void;
  delete(namespace: string, name: string): boolean;
  inNamespace(namespace: string): readonly T[];
  all(): readonly T[];
  replaceNamespace(namespace: string, objects: readonly T[]): void;
  replaceAll(objects: readonly T[]): void;
  size(): number;
}

/** Optional callbacks after each change is folded in (metrics, derived state). */
export interface CacheHandlers<T> {
  onUpsert?(object: T): void;
  onDelete?(object: T): void;
}

export interface ListWatchOptions<T extends Keyed> {
  kubeConfig: KubeConfig;
  source: ListSource<T>;
  store: ObjectStore<T>;
  logger: Logger;
  watchSilenceTimeoutMs: number;
  listTimeoutMs: number;
  backoff: BackoffOptions;
  handlers?: CacheHandlers<T>;
}

type WatchEnd =
  | { kind: 'closed'; events: number }
  | { kind: 'gone' }
  | { kind: 'silent' }
  | { kind: 'error'; error: unknown }
  | { kind: 'stopped' };

/** Counters for tests and logs. */
export interface CacheStats {
  lists: number;
  watches: number;
  gone: number;
  silent: number;
  errors: number;
}

export const namespaceKey = (object: Keyed): string => object.metadata.namespace ?? '';

export class ListWatchCache<T extends Keyed> {
  readonly stats: CacheStats = { lists: 0, watches: 0, gone: 0, silent: 0, errors: 0 };
  private synced = false;
  private stopped = false;
  private resourceVersion = '';
  private loop: Promise<void> | undefined;
  private endWatch: ((end: WatchEnd) => void) | undefined;
  private readonly sleeper = new Sleeper();
  private readonly stopSignal = new AbortController();
  private readonly syncWaiters = new Set<(synced: boolean) => void>();
  private watching = false;
  private readonly watchWaiters = new Set<() => void>();
  private readonly watch: Watch;

  constructor(private readonly options: ListWatchOptions<T>) {
    this.watch = new Watch(options.kubeConfig);
  }

  get kind(): string {
    return this.options.source.kind;
  }

  start(): void {
    this.loop ??= this.run();
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** True once the first list is in, false if `timeoutMs` passes (or the cache stops) first. Never rejects. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (synced: boolean): void => {
        clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve(synced);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.syncWaiters.add(done);
    });
  }

  /**
   * True once a watch stream has been opened after the first list (events
   * from then on are seen), false if `timeoutMs` passes or the cache stops
   * first. Never rejects.
   */
  waitForWatch(timeoutMs: number): Promise<boolean> {
    if (this.watching) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.watchWaiters.delete(done);
        resolve(this.watching);
      };
      const timer = setTimeout(done, timeoutMs);
      this.watchWaiters.add(done);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    this.sleeper.cancelAll();
    this.endWatch?.({ kind: 'stopped' });
    await this.loop;
    for (const waiter of [...this.syncWaiters]) waiter(false);
    for (const waiter of [...this.watchWaiters]) waiter();
  }

  /** Fold in one object just written or read: kept unless the cache holds a newer copy. */
  observe(object: T): void {
    const { store, handlers } = this.options;
    const current = store.get(namespaceKey(object), object.metadata.name);
    if (current && isNewer(current.metadata.resourceVersion, object.metadata.resourceVersion)) return;
    store.upsert(object);
    handlers?.onUpsert?.(object);
  }

  /** Fold in a direct list of one namespace taken at `listVersion`. */
  replaceNamespace(namespace: string, items: readonly T[], listVersion: string): void {
    const { store } = this.options;
    store.replaceNamespace(namespace, mergeSnapshot(store.inNamespace(namespace), items, listVersion));
  }

  private async run(): Promise<void> {
    const { logger, backoff } = this.options;
    const kind = this.kind;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
      } catch (err) {
        if (this.stopped) break;
        const delay = backoffDelay(failures++, backoff);
        this.stats.errors += 1;
        logger.warn({ err: describeError(err), retryInMs: Math.round(delay) }, `${kind} list failed`);
        await this.sleeper.sleep(delay);
        continue;
      }
      const started = Date.now();
      const end = await this.watchOnce();
      if (this.stopped || end.kind === 'stopped') break;
      if (end.kind === 'gone') {
        this.stats.gone += 1;
        logger.info(`${kind} watch: resourceVersion too old (410 Gone), relisting`);
        this.resourceVersion = '';
        failures = 0;
      } else if (end.kind === 'silent') {
        this.stats.silent += 1;
        logger.warn({ silentForMs: this.options.watchSilenceTimeoutMs }, `${kind} watch went silent, restarting it`);
      } else if (end.kind === 'closed' && (end.events > 0 || Date.now() - started > 1_000)) {
        logger.debug(`${kind} watch closed by the server, resuming`);
        failures = 0;
      } else {
        const delay = backoffDelay(failures++, backoff);
        this.stats.errors += 1;
        const reason = end.kind === 'error' ? describeError(end.error) : 'closed without any event';
        logger.warn({ err: reason, retryInMs: Math.round(delay) }, `${kind} watch failed`);
        await this.sleeper.sleep(delay);
      }
    }
  }

  private async relist(): Promise<void> {
    const { source, store, listTimeoutMs, logger } = this.options;
    this.stats.lists += 1;
    const { items, resourceVersion } = await source.list(undefined, listTimeoutMs, this.stopSignal.signal);
    if (this.stopped) return;
    store.replaceAll(mergeSnapshot(store.all(), items, resourceVersion));
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      logger.info({ kind: source.kind, objects: store.size() }, `${source.kind} cache synced`);
      for (const waiter of [...this.syncWaiters]) waiter(true);
    }
  }

  /** One watch connection, from the current resourceVersion until it ends for any reason. Never rejects. */
  private watchOnce(): Promise<WatchEnd> {
    const { source, watchSilenceTimeoutMs } = this.options;
    this.stats.watches += 1;
    return new Promise((resolve) => {
      let settled = false;
      let events = 0;
      let controller: AbortController | undefined;
      let silenceTimer: NodeJS.Timeout | undefined;
      const finish = (end: WatchEnd): void => {
        if (settled) return;
        settled = true;
        clearTimeout(silenceTimer);
        this.endWatch = undefined;
        controller?.abort();
        resolve(end);
      };
      const armSilenceTimer = (): void => {
        clearTimeout(silenceTimer);
        silenceTimer = setTimeout(() => finish({ kind: 'silent' }), watchSilenceTimeoutMs);
      };
      this.endWatch = finish;
      armSilenceTimer();
      const query = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        // Like client-go: the server ends the watch after 5–10 min, spreading reconnects.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      };
      const onEvent = (type: string, object: unknown): void => {
        if (settled) return;
        events += 1;
        armSilenceTimer();
        try {
          const end = this.apply(type, object);
          if (end) finish(end);
        } catch (err) {
          this.options.logger.error({ err: describeError(err) }, `${source.kind} watch event could not be applied`);
        }
      };
      const onDone = (err: unknown): void => {
        if (!err) finish({ kind: 'closed', events });
        else if ((err as { statusCode?: number }).statusCode === 410) finish({ kind: 'gone' });
        else finish({ kind: 'error', error: err });
      };
      this.watch.watch(source.watchPath, query, onEvent, onDone).then(
        (started) => {
          controller = started;
          if (settled) return void started.abort();
          if (!this.watching) {
            this.watching = true;
            for (const waiter of [...this.watchWaiters]) waiter();
          }
        },
        (err: unknown) => finish({ kind: 'error', error: err }),
      );
    });
  }

  /** Apply one watch event; returns how the watch ends when the event ends it. */
  private apply(type: string, object: unknown): WatchEnd | undefined {
    if (type === 'ERROR') {
      const status = object as { code?: number; message?: string } | undefined;
      if (status?.code === 410) return { kind: 'gone' };
      return { kind: 'error', error: new Error(`watch ERROR event ${status?.code ?? ''}: ${status?.message ?? 'no message'}`) };
    }
    const version = (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
    const { source, store, handlers } = this.options;
    if (type === 'ADDED' || type === 'MODIFIED') {
      const converted = source.convert(object);
      if (converted) this.observe(converted);
    } else if (type === 'DELETED') {
      const converted = source.convert(object);
      const current = converted && store.get(namespaceKey(converted), converted.metadata.name);
      if (converted && current && !isNewer(current.metadata.resourceVersion, version)) {
        store.delete(namespaceKey(converted), converted.metadata.name);
        handlers?.onDelete?.(current);
      }
    }
    if (version) this.resourceVersion = version;
    return undefined;
  }
}

/**
 * Is `a` a later version of the same object than `b`? resourceVersions are
 * opaque to clients in principle; every etcd-backed API server uses the
 * revision number, so numeric ones are compared and anything else counts as
 * "not newer" (the incoming copy wins, as an informer would do).
 */
export function isNewer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) > BigInt(b);
}

/**
 * A list taken at `listVersion`, merged with what the cache already holds:
 * a cached copy newer than the listed one wins, and a cached object absent
 * from the list survives only if it was written after the list was taken.
 */
export function mergeSnapshot<T extends Keyed>(cached: readonly T[], listed: readonly T[], listVersion: string): T[] {
  const keyOf = (object: T): string => `${namespaceKey(object)}/${object.metadata.name}`;
  const result = new Map(listed.map((object) => [keyOf(object), object]));
  for (const object of cached) {
    const key = keyOf(object);
    const fresh = result.get(key);
    const version = object.metadata.resourceVersion;
    if (fresh ? isNewer(version, fresh.metadata.resourceVersion) : isNewer(version, listVersion)) result.set(key, object);
  }
  return [...result.values()];
}
