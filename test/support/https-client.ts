import { request } from 'node:https';

export interface HttpsAnswer { status: number; headers: Record<string, string | string[] | undefined>; text: string }

/** One HTTPS request that trusts only the given CA, as the API server does with the caBundle. */
export function httpsRequest(url: string, options: { ca: string | Buffer; method?: string; body?: string; agent?: false }): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      ca: options.ca,
      agent: options.agent,
      headers: options.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
