// The load generator, in its own process (pinned to the other CPU when
// taskset exists) so it never shares the server's event loop. autocannon
// drives HTTPS keep-alive connections; latency is taken from autocannon's
// per-response timings (fractional ms) because its own histogram rounds
// to whole milliseconds, too coarse for sub-millisecond reviews.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

export interface LoadRequest {
  path: string;
  body: string;
}

export interface LoadConfig {
  url: string;
  connections: number;
  durationSec: number;
  warmupSec: number;
  requests: LoadRequest[];
  /** mutate-with-write: every request a new version of one of `services` services, spread over `namespaces` namespaces. */
  write?: WriteConfig;
}

export interface WriteConfig {
  path: string;
  template: string;
  services: number;
  namespaces: number;
  prefix: string;
}

/** Request `n` of a mutate-with-write run: which namespace, service and version it names. */
export function writeTarget(write: Pick<WriteConfig, 'services' | 'namespaces' | 'prefix'>, n: number): { namespace: string; service: string; version: string } {
  const k = n % write.services;
  return { namespace: `${write.prefix}-ns${k % write.namespaces}`, service: `s${k}`, version: `${write.prefix}-v${n}` };
}

export interface LoadResult {
  responses: number;
  /** Warm-up included: what the server's CPU time is divided by. */
  totalResponses: number;
  durationSec: number;
  rps: number;
  latencyMs: { avg: number; p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** mutate-with-write: `namespace/service/version` of every admitted request (warm-up included). */
  admitted?: string[];
  denied?: number;
  deniedSamples?: string[];
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
  setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, responseTimeMs: number) => void): void;
  on(event: 'done', listener: (result: { errors: number; timeouts: number; non2xx: number }) => void): void;
}
type Autocannon = (options: Record<string, unknown>, callback: (error: Error | null, result: { errors: number; timeouts: number; non2xx: number }) => void) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadConfig;
const headers = { 'content-type': 'application/json', accept: 'application/json, */*' };

const admitted: string[] = [];
const deniedSamples: string[] = [];
let denied = 0;
let sequence = 0;

function requests(): AutocannonRequest[] {
  const write = config.write;
  if (!write) return config.requests.map((request) => ({ method: 'POST', path: request.path, body: request.body, headers }));
  return [{
    method: 'POST',
    path: write.path,
    headers,
    setupRequest(request, context) {
      const n = sequence++;
      const { namespace, service, version } = writeTarget(write, n);
      context.key = `${namespace}/${service}/${version}`;
      request.body = write.template.replaceAll('__NAMESPACE__', namespace).replaceAll('__SERVICE__', service).replaceAll('__VERSION__', version).replace('__UID__', `${write.prefix}-${n}`);
      return request;
    },
    onResponse(status, body, context) {
      if (status === 200 && body.includes('"allowed":true')) {
        admitted.push(String(context.key));
      } else {
        denied += 1;
        if (deniedSamples.length < 5) deniedSamples.push(`${status} ${body.slice(0, 300)}`);
      }
    },
  }];
}

function run(durationSec: number, latencies: number[] | undefined): Promise<{ errors: number; timeouts: number; non2xx: number; responses: number; elapsedSec: number }> {
  return new Promise((resolve, reject) => {
    let responses = 0;
    const startedAt = performance.now();
    const instance = autocannon({
      url: config.url,
      connections: config.connections,
      duration: durationSec,
      pipelining: 1,
      timeout: 30,
      requests: requests(),
    }, (error, result) => {
      if (error) return reject(error);
      resolve({ errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, responses, elapsedSec: (performance.now() - startedAt) / 1000 });
    });
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      responses += 1;
      latencies?.push(responseTimeMs);
    });
  });
}

const warm = config.warmupSec > 0 ? await run(config.warmupSec, undefined) : { responses: 0 };
const latencies: number[] = [];
const measured = await run(config.durationSec, latencies);
latencies.sort((a, b) => a - b);
const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(q * latencies.length) - 1))] ?? Number.NaN;
const result: LoadResult = {
  responses: measured.responses,
  totalResponses: measured.responses + warm.responses,
  durationSec: measured.elapsedSec,
  rps: measured.responses / measured.elapsedSec,
  latencyMs: {
    avg: latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length),
    p50: at(0.5),
    p99: at(0.99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
  },
  non2xx: measured.non2xx,
  errors: measured.errors,
  timeouts: measured.timeouts,
  ...(config.write ? { admitted, denied, deniedSamples } : {}),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
