// Slow and idle clients (SPEC §6, issue 7): a client dribbling its headers or
// its body is cut off after the short header/request timeout, and a thousand
// idle keep-alive connections (what API servers hold open) neither get closed
// early nor keep the server from answering a new review quickly.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { review } from './support/app-harness.js';
import { virtualService } from './support/objects.js';
import { openTls, rawPost, readResponse } from './support/reliability-tls.js';
import { startStandalone, type Standalone } from './support/standalone.js';

const HEADERS_TIMEOUT_MS = 1_500;
const REQUEST_TIMEOUT_MS = 2_500;

let standalone: Standalone;
let port: number;

before(async () => {
  standalone = await startStandalone([
    '--headers-timeout-ms', String(HEADERS_TIMEOUT_MS),
    '--request-timeout-ms', String(REQUEST_TIMEOUT_MS),
    '--shutdown-grace-ms', '2000',
  ]);
  port = standalone.started.running.port;
});

after(async () => {
  await standalone.started.shutdown();
  rmSync(standalone.certDir, { recursive: true, force: true });
});

function reviewBody(): { body: string; uid: string } {
  const body = review(virtualService('demo4', 'demo4', [{ weight: 100 }]));
  return { body: JSON.stringify(body), uid: (body.request as { uid: string }).uid };
}

/** Writes `text` one byte every `intervalMs` until the socket closes; resolves with what happened. */
function dribble(socket: TLSSocket, text: string, intervalMs: number): Promise<{ closedAfterMs: number; bytesSent: number; received: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    let sent = 0;
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => undefined);
    const timer = setInterval(() => {
      if (sent < text.length && !socket.destroyed) socket.write(text[sent++]!);
    }, intervalMs);
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ closedAfterMs: Date.now() - started, bytesSent: sent, received: Buffer.concat(received).toString('latin1') });
    });
  });
}

describe('slow clients', () => {
  it('cuts off a client that sends its headers one byte a second at the header timeout', async () => {
    const { socket } = await openTls(port, { ca: standalone.ca });
    const { body } = reviewBody();
    const { head } = rawPost('/validate', body);
    // At one byte a second the headers alone would take minutes.
    assert.ok(head.length > 60);
    const outcome = await dribble(socket, head + body, 1_000);
    assert.ok(outcome.closedAfterMs >= HEADERS_TIMEOUT_MS - 500, `closed after ${outcome.closedAfterMs} ms, before the header timeout`);
    // The timeout is checked every second (connectionsCheckingInterval), plus a noisy machine.
    assert.ok(outcome.closedAfterMs < HEADERS_TIMEOUT_MS + 5_000, `still open after ${outcome.closedAfterMs} ms`);
    assert.ok(outcome.bytesSent < head.length, 'the whole header went through');
    assert.doesNotMatch(outcome.received, /AdmissionReview/);
    assert.match(outcome.received, /^(HTTP\/1\.1 408|$)/, 'either a 408 or a plain close');
  });

  it('cuts off a client that sends its headers and then dribbles the body at the request timeout', async () => {
    const before = await badRequests();
    const { socket } = await openTls(port, { ca: standalone.ca });
    const { body } = reviewBody();
    const { head } = rawPost('/validate', body);
    socket.write(head);
    const outcome = await dribble(socket, body, 500);
    assert.ok(outcome.closedAfterMs < REQUEST_TIMEOUT_MS + 5_000, `still open after ${outcome.closedAfterMs} ms`);
    assert.ok(outcome.bytesSent < body.length, 'the whole body went through');
    assert.doesNotMatch(outcome.received, /AdmissionReview/);
    // The handler that was reading the body finished (no request left hanging, holding its buffer).
    await waitFor(async () => (await badRequests()) > before, 5_000, 'the aborted body to be counted as a bad request');
  });

  it('answers a new review quickly while 1,000 idle keep-alive connections are open', async (t) => {
    const connections = 1_000;
    const limit = fileDescriptorLimit();
    // Client and server ends live in this process: two descriptors per connection.
    if (limit !== undefined && limit < 2 * connections + 200) {
      t.skip(`ulimit -n is ${limit}; need ${2 * connections + 200}`);
      return;
    }
    const idle: TLSSocket[] = [];
    let closedEarly = 0;
    try {
      // Each connection completes a handshake and a request, then sits idle, as the API server's do.
      const batch = 100;
      for (let i = 0; i < connections; i += batch) {
        const opened = await Promise.all(Array.from({ length: batch }, async () => {
          const { socket } = await openTls(port, { ca: standalone.ca });
          socket.once('close', () => void (closedEarly += 1));
          idle.push(socket);
          socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
          return readResponse(socket);
        }));
        assert.ok(opened.every((response) => response.status === 200 && response.headers.connection !== 'close'));
      }
      assert.equal(idle.length, connections);

      const started = performance.now();
      const { socket } = await openTls(port, { ca: standalone.ca });
      const { body, uid } = reviewBody();
      socket.write(rawPost('/validate', body).head + body);
      const response = await readResponse(socket);
      const elapsedMs = performance.now() - started;
      socket.destroy();
      assert.equal(response.status, 200);
      assert.equal((JSON.parse(response.body) as { response: { uid: string } }).response.uid, uid);
      assert.ok(elapsedMs < 2_000, `a new review took ${Math.round(elapsedMs)} ms with ${connections} idle connections`);

      // None of the idle connections was dropped meanwhile, and each is still usable.
      assert.equal(closedEarly, 0);
      const sample = idle.filter((_s, index) => index % 100 === 0);
      const again = await Promise.all(sample.map((s) => {
        s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
        return readResponse(s);
      }));
      assert.ok(again.every((r) => r.status === 200));
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

async function badRequests(): Promise<number> {
  const agent = new Agent({ ca: standalone.ca, keepAlive: false });
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'localhost', path: '/metrics', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end();
  });
  agent.destroy();
  const match = /canary_webhook_admission_requests_total\{webhook="validate",operation="unknown",result="bad_request"\} (\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

function fileDescriptorLimit(): number | undefined {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Infinity : Number(text);
  } catch {
    return undefined;
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
