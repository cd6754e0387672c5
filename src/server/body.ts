// Reads and parses the request body without express.json(): a webhook gets
// one content type and one shape, and the generic body-parser stack (type
// sniffing, charset decoding, verify hooks) cost a measurable share of each
// review in the benchmark. The content type is not checked: the API server
// always sends JSON, and `curl -d` (form-encoded by default) should just work.
import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  constructor(readonly statusCode: 400 | 413, message: string) {
    super(message);
  }
}

export function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declaredLength = Number(request.headers['content-length']);
  if (Number.isFinite(declaredLength) && declaredLength > maxBytes) {
    request.resume();
    return Promise.reject(new BodyError(413, `body of ${declaredLength} bytes is over the ${maxBytes}-byte limit`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    let failed = false;
    request.on('data', (chunk: Buffer) => {
      if (failed) return;
      receivedBytes += chunk.length;
      if (receivedBytes > maxBytes) {
        failed = true;
        chunks.length = 0;
        reject(new BodyError(413, `body is over the ${maxBytes}-byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (failed) return;
      if (receivedBytes === 0) return reject(new BodyError(400, 'empty body: expected an AdmissionReview as JSON'));
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, receivedBytes).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new BodyError(400, `body is not valid JSON: ${(error as Error).message}`));
      }
    });
    request.on('error', (error) => {
      if (!failed) {
        failed = true;
        reject(new BodyError(400, `could not read body: ${error.message}`));
      }
    });
  });
}
