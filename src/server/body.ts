// Reads and parses the request body without express.json(): a webhook gets
// one content type and one shape, and the generic body-parser stack (type
// sniffing, charset decoding, verify hooks) cost a measurable share of each
// review in the benchmark. The content type is not checked: the API server
// always sends JSON, and `curl -d` (form-encoded by default) should just work.
import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  constructor(readonly statusCode: 400 | 408 | 413, message: string) {
    super(message);
  }
}

/**
 * `idleTimeoutMs`: a body that stops arriving is cut off then, not at the
 * server's whole-request timeout; a stalled body holds up to `maxBytes`
 * of buffers, and the API server sends its body in one go.
 */
export function readJsonBody(request: IncomingMessage, maxBytes: number, idleTimeoutMs?: number): Promise<unknown> {
  const declaredLength = Number(request.headers['content-length']);
  if (Number.isFinite(declaredLength) && declaredLength > maxBytes) {
    request.resume();
    return Promise.reject(new BodyError(413, `body of ${declaredLength} bytes is over the ${maxBytes}-byte limit`));
  }
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let receivedBytes = 0;
    let failed = false;
    let idleTimer: NodeJS.Timeout | undefined;
    let chunksSeen = 0;
    const fail = (error: BodyError): void => {
      failed = true;
      // The listeners outlive this promise while the request lives: drop the buffers now.
      chunks = [];
      if (idleTimer) clearTimeout(idleTimer);
      reject(error);
    };
    const armIdle = (): void => {
      if (idleTimeoutMs === undefined) return;
      if (idleTimer) idleTimer.refresh();
      else idleTimer = setTimeout(() => {
        // Timers run before pending socket reads: after the event loop was
        // busy (other reviews), bytes may be waiting. Look again once they are read.
        const seen = chunksSeen;
        setImmediate(() => {
          if (failed || chunksSeen !== seen) return;
          fail(new BodyError(408, `body stalled for ${idleTimeoutMs} ms`));
          // Nothing useful can follow on this connection: close it once the 408 is written.
          const socket = request.socket;
          setImmediate(() => socket?.destroySoon());
        });
      }, idleTimeoutMs);
    };
    armIdle();
    request.on('data', (chunk: Buffer) => {
      if (failed) return;
      chunksSeen += 1;
      armIdle();
      receivedBytes += chunk.length;
      if (receivedBytes > maxBytes) return fail(new BodyError(413, `body is over the ${maxBytes}-byte limit`));
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (failed) return;
      if (idleTimer) clearTimeout(idleTimer);
      failed = true;
      const received = chunks;
      chunks = [];
      if (receivedBytes === 0) return reject(new BodyError(400, 'empty body: expected an AdmissionReview as JSON'));
      const text = received.length === 1 ? received[0]!.toString('utf8') : Buffer.concat(received, receivedBytes).toString('utf8');
      received.length = 0;
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new BodyError(400, `body is not valid JSON: ${(error as Error).message}`));
      }
    });
    request.on('error', (error) => {
      if (!failed) fail(new BodyError(400, `could not read body: ${error.message}`));
    });
    request.on('close', () => {
      if (!failed) fail(new BodyError(400, 'connection closed before the body was complete'));
    });
  });
}
