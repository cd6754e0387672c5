// SIGTERM (SPEC §6, issue 7): the real binary, as a child process, with
// reviews in flight. Every in-flight review gets its answer, new connections
// are refused at once, idle keep-alive connections are closed rather than
// waited for, and the process exits 0 within the grace period — also when a
// client never finishes its request.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { review } from './support/app-harness.js';
import { virtualService } from './support/objects.js';
import { spawnServer, type ServerProcess } from './support/reliability-process.js';
import { openTls, rawPost, readResponse, waitForContinue } from './support/reliability-tls.js';

const IN_FLIGHT = 6;

function reviewBody(): { body: string; uid: string } {
  const body = review(virtualService('demo4', 'demo4', [{ weight: 100 }]));
  return { body: JSON.stringify(body), uid: (body.request as { uid: string }).uid };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function closed(socket: TLSSocket): Promise<number> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve(Date.now());
    else socket.once('close', () => resolve(Date.now()));
  });
}

/** A new connection attempt: resolves with the error code, or 'connected'. */
async function tryConnect(server: ServerProcess): Promise<string> {
  try {
    const { socket } = await openTls(server.port, { ca: server.ca });
    socket.destroy();
    return 'connected';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

async function cleanUp(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await server.exited;
  rmSync(server.certDir, { recursive: true, force: true });
}

describe('SIGTERM', () => {
  it('answers every in-flight review, refuses new connections and exits 0 within the grace period', async () => {
    const graceMs = 8_000;
    const server = await spawnServer(['--shutdown-grace-ms', String(graceMs)]);
    try {
      // An idle keep-alive connection, as the API server holds: it must not delay the exit.
      const idle = await openTls(server.port, { ca: server.ca });
      idle.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal((await readResponse(idle.socket)).status, 200);
      const idleClosed = closed(idle.socket);

      // Reviews in flight: headers and half the body sent, the rest after the signal.
      // `Expect: 100-continue` makes the server say when it has parsed the headers,
      // so "in flight" means the server has the request, not just the kernel's buffer.
      // (A request still unread when SIGTERM arrives looks idle to the server and is
      // closed with the idle connections: the preStop sleep exists for that race.)
      const inFlight = await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        const { socket } = await openTls(server.port, { ca: server.ca });
        const { body, uid } = reviewBody();
        const half = Math.floor(body.length / 2);
        const continued = waitForContinue(socket);
        socket.write(rawPost('/validate', body, { Expect: '100-continue' }).head);
        await continued;
        socket.write(body.slice(0, half));
        const answer = readResponse(socket, 20_000);
        // Awaited below; without this a rejection before then would be "unhandled".
        answer.catch(() => undefined);
        return { socket, rest: body.slice(half), uid, answer };
      }));

      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      await server.waitForLog(/^shutting down/);

      // New connections are refused while the in-flight reviews are still open. (An
      // attempt racing the close of the listening socket may be reset instead.)
      let refusal = await tryConnect(server);
      for (let i = 0; i < 20 && refusal !== 'ECONNREFUSED'; i++) {
        await sleep(50);
        refusal = await tryConnect(server);
      }
      assert.equal(refusal, 'ECONNREFUSED');
      assert.equal(server.child.exitCode, null, 'exited before answering the in-flight reviews');

      // The idle connection is closed by the drain, not waited for.
      const idleClosedAt = await idleClosed;
      assert.ok(idleClosedAt - signalledAt < 3_000, `idle keep-alive connection closed ${idleClosedAt - signalledAt} ms after SIGTERM`);

      await sleep(500);
      for (const request of inFlight) request.socket.write(request.rest);
      for (const request of inFlight) {
        const response = await request.answer;
        assert.equal(response.status, 200);
        const answer = JSON.parse(response.body) as { response: { uid: string; allowed: boolean } };
        assert.equal(answer.response.uid, request.uid);
        assert.equal(answer.response.allowed, true);
        // Shutting down: the connection is not kept for another request.
        assert.equal(response.headers.connection, 'close');
        request.socket.destroy();
      }

      const exit = await server.exited;
      assert.equal(exit.code, 0, `exit ${exit.code} ${exit.signal}; stderr: ${server.stderr()}`);
      assert.ok(exit.at - signalledAt < graceMs, `exited ${exit.at - signalledAt} ms after SIGTERM; the grace is ${graceMs} ms`);
      const stopped = server.logs.find((line) => line.msg === 'canary-webhook stopped');
      assert.equal(stopped?.drained, true, 'every connection drained before the grace ran out');
      const reviews = server.logs.filter((line) => line.msg === 'review');
      assert.equal(reviews.length, IN_FLIGHT, 'one log line per review');
    } finally {
      await cleanUp(server);
    }
  });

  it('exits 0 at the end of the grace period when a client never finishes its request', async () => {
    const graceMs = 1_500;
    const server = await spawnServer(['--shutdown-grace-ms', String(graceMs)]);
    try {
      const { socket } = await openTls(server.port, { ca: server.ca });
      const { body } = reviewBody();
      socket.on('error', () => undefined);
      const continued = waitForContinue(socket);
      socket.write(rawPost('/validate', body, { Expect: '100-continue' }).head);
      await continued;
      socket.write(body.slice(0, 20));
      const stuckClosed = closed(socket);

      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      assert.equal(exit.code, 0, `exit ${exit.code} ${exit.signal}; stderr: ${server.stderr()}`);
      const elapsed = exit.at - signalledAt;
      assert.ok(elapsed >= graceMs - 200, `exited after ${elapsed} ms, before the grace period`);
      assert.ok(elapsed < graceMs + 5_000, `exited ${elapsed} ms after SIGTERM; the grace is ${graceMs} ms`);
      await stuckClosed;
      const stopped = server.logs.find((line) => line.msg === 'canary-webhook stopped');
      assert.equal(stopped?.drained, false);
    } finally {
      await cleanUp(server);
    }
  });
});
