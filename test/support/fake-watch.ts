// The watch half of the fake API server: newline-delimited JSON events over a
// chunked 200 response, like kube-apiserver. Replays the event log from the
// requested resourceVersion, sends BOOKMARKs when asked, answers a too-old
// resourceVersion with 410 (as an ERROR event, or as an HTTP status), and
// lets tests drop or silence connections.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiVersionOf, FakeObjects, kindOf, statusBody, type StoredEvent } from './fake-objects.js';

export interface WatchRequest {
  plural: string;
  version: string;
  namespace?: string;
  resourceVersion: string;
  bookmarks: boolean;
  timeoutSeconds?: number;
}

interface Connection {
  res: ServerResponse;
  silent: boolean;
  close(): void;
}

export class WatchHub {
  /** How often a watch that asked for bookmarks gets one. */
  bookmarkIntervalMs = 100;
  /** How a too-old resourceVersion is answered: an ERROR event (kube-apiserver's usual way) or HTTP 410. */
  goneAs: 'event' | 'status' = 'event';
  /** New watches start silent: they stay open and never send anything. */
  silenceNew = false;
  /** Watches opened so far (tests wait on it to see a client reconnect). */
  opened = 0;
  private readonly connections = new Set<Connection>();

  constructor(private readonly objects: FakeObjects) {}

  get active(): number {
    return this.connections.size;
  }

  serve(req: IncomingMessage, res: ServerResponse, watch: WatchRequest): void {
    this.opened += 1;
    const from = watch.resourceVersion === '' || watch.resourceVersion === '0' ? undefined : Number(watch.resourceVersion);
    const replay = from === undefined ? undefined : this.objects.eventsSince(from, watch.plural, watch.namespace);
    if (replay === 'gone') {
      const gone = statusBody(410, 'Expired', `too old resource version: ${from} (${this.objects.compactedRv})`);
      if (this.goneAs === 'status') {
        res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify(gone));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'ERROR', object: gone }) + '\n');
      }
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const apiVersion = apiVersionOf(watch.plural, watch.version);
    const timers: NodeJS.Timeout[] = [];
    const connection: Connection = {
      res,
      silent: this.silenceNew,
      close: () => {
        unsubscribe();
        timers.forEach(clearTimeout);
        this.connections.delete(connection);
      },
    };
    const send = (line: object): void => {
      if (!connection.silent && !res.writableEnded && !res.destroyed) res.write(JSON.stringify(line) + '\n');
    };
    const sendEvent = (event: StoredEvent): void =>
      send({ type: event.type, object: this.objects.present(event.plural, watch.version, event.object) });

    // Replay and subscribe in one tick, so no event falls between them.
    if (replay === undefined) {
      for (const object of this.objects.list(watch.plural, watch.namespace)) {
        send({ type: 'ADDED', object: this.objects.present(watch.plural, watch.version, object) });
      }
    } else {
      replay.forEach(sendEvent);
    }
    const unsubscribe = this.objects.subscribe((event) => {
      if (event.plural === watch.plural && (watch.namespace === undefined || event.namespace === watch.namespace)) sendEvent(event);
    });
    if (watch.bookmarks) {
      const tick = (): void => {
        send({ type: 'BOOKMARK', object: { apiVersion, kind: kindOf(watch.plural), metadata: { resourceVersion: String(this.objects.rv) } } });
        timers[0] = setTimeout(tick, this.bookmarkIntervalMs);
      };
      timers[0] = setTimeout(tick, this.bookmarkIntervalMs);
    }
    if (watch.timeoutSeconds !== undefined && watch.timeoutSeconds > 0) {
      timers[1] = setTimeout(() => res.end(), watch.timeoutSeconds * 1000);
    }
    this.connections.add(connection);
    res.on('close', connection.close);
    req.on('close', connection.close);
  }

  /** Cut every open watch connection (the client sees the stream end abruptly). */
  dropAll(): void {
    for (const connection of [...this.connections]) {
      connection.close();
      connection.res.destroy();
    }
  }

  /** Open watches stop sending anything, for good; with `includeNew`, watches opened later too until `resume()`. */
  silence(includeNew: boolean): void {
    for (const connection of this.connections) connection.silent = true;
    this.silenceNew = includeNew;
  }

  /** New watches behave again (silenced connections stay stuck, as a dead TCP peer would). */
  resume(): void {
    this.silenceNew = false;
  }
}
