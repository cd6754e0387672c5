// Connections that cost memory without sending anything (issue 10, SPEC §6):
// a TLS connection that never sends a request is closed at the header
// timeout (4,000 of them used to stay for ever: RSS 146 → 291 MiB), and the
// total number of connections is capped (--max-connections).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { review } from './support/app-harness.js';
import { virtualService } from './support/objects.js';
import { openTls, rawPost, readResponse } from './support/reliability-tls.js';
import { startStandalone, type Standalone } from './support/standalone.js';

const HEADERS_TIMEOUT_MS = 1_000;
const MAX_CONNECTIONS = 60;

let standalone: Standalone;
let port: number;

before(async () => {
  standalone = await startStandalone([
    '--headers-timeout-ms', String(HEADERS_TIMEOUT_MS),
    '--max-connections', String(MAX_CONNECTIONS),
    // Long, so that a body cut off early was cut by the body idle timeout.
    '--request-timeout-ms', '120000',
    '--body-idle-timeout-ms', '1000',
    '--shutdown-grace-ms', '1000',
  ]);
  port = standalone.started.running.port;
});

after(async () => {
  await standalone.started.shutdown();
  rmSync(standalone.certDir, { recursive: true, force: true });
});

async function smallReview(): Promise<number> {
  const { socket } = await openTls(port, { ca: standalone.ca });
  const body = JSON.stringify(review(virtualService('demo4', 'demo4', [{ weight: 100 }])));
  socket.write(rawPost('/validate', body).head + body);
  const answer = await readResponse(socket);
  socket.destroy();
  return answer.status;
}

function closed(socket: TLSSocket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Resolves when `promise` does, or fails the test after `timeoutMs` (a liveness bound, not a timing measurement). */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('silent and excess connections', () => {
  it('closes TLS connections that never send a request, and keeps ones that did', async () => {
    const silent = await Promise.all(Array.from({ length: 40 }, () => openTls(port, { ca: standalone.ca })));
    for (const { socket } of silent) socket.on('error', () => undefined);
    // One that spoke: it is a keep-alive connection and stays (the keep-alive timeout is 120 s).
    const talker = await openTls(port, { ca: standalone.ca });
    talker.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal((await readResponse(talker.socket)).status, 200);
    await within(Promise.all(silent.map(({ socket }) => closed(socket))), 20_000, 'the server to close every silent connection');
    assert.equal(talker.socket.destroyed, false, 'a keep-alive connection that sent a request stays open');
    talker.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal((await readResponse(talker.socket)).status, 200);
    talker.socket.destroy();
    assert.equal(await smallReview(), 200);
  });

  it('closes a TCP connection that never finishes its TLS handshake', async () => {
    const raw = tcpConnect(port, '127.0.0.1');
    raw.on('error', () => undefined);
    await within(new Promise<void>((resolve) => raw.once('close', () => resolve())), 20_000, 'the server to close a connection stuck before its handshake');
  });

  it(`refuses connections past --max-connections (${MAX_CONNECTIONS}) and accepts again when some close`, async () => {
    const held: TLSSocket[] = [];
    try {
      // Each sends a request so it is not closed as silent.
      for (let i = 0; i < MAX_CONNECTIONS; i++) {
        const { socket } = await openTls(port, { ca: standalone.ca });
        socket.on('error', () => undefined);
        held.push(socket);
        socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
        assert.equal((await readResponse(socket)).status, 200);
      }
      await assert.rejects(openTls(port, { ca: standalone.ca }), 'one more connection is refused');
      for (const socket of held.splice(0, 5)) socket.destroy();
      await within((async () => {
        for (;;) {
          try {
            return await smallReview();
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      })(), 10_000, 'a new connection to be accepted once some closed').then((status) => assert.equal(status, 200));
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it('cuts off a body that stops arriving at --body-idle-timeout-ms, long before the request timeout, and answers 408', async () => {
    const { socket } = await openTls(port, { ca: standalone.ca });
    socket.on('error', () => undefined);
    const body = JSON.stringify(review(virtualService('demo4', 'demo4', [{ weight: 100 }])));
    socket.write(rawPost('/validate', body).head + body.slice(0, body.length - 5));
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // The request timeout is 120 s: closing within 20 s is the body idle timeout's doing.
    await within(closed(socket), 20_000, 'the server to cut off the stalled body');
    assert.match(Buffer.concat(received).toString('latin1'), /^HTTP\/1\.1 408 [^]*body stalled for 1000 ms/);
    assert.equal(await smallReview(), 200);
  });
});
