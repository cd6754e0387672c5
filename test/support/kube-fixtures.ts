// Shared pieces of the Kubernetes store tests: a silent logger that keeps
// what was logged, a seeded PRNG, polling, and DestinationRule objects.
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { defaultRuleSettings, type DestinationRule, type SubsetRequest } from '../../src/rules/types.js';

/**
 * The store tests below exercise writes, conflicts and caches with
 * `--subset-placement=append` (the old behaviour, kept as a mode); the
 * companion placement has its own tests (test/companion-*.test.ts).
 */
export const settings = { ...defaultRuleSettings, subsetPlacement: 'append' as const };
/** The shipped defaults: companion placement. */
export const companionSettings = defaultRuleSettings;

/** A pino logger that writes nowhere but remembers each line (as parsed JSON). */
export function memoryLogger(level: pino.Level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

/** mulberry32: a small seeded PRNG so a failing seed can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Poll until `check` returns something truthy, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function rule(namespace: string, name: string, host: string, subsets: string[] = [], spec: Record<string, unknown> = {}): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace },
    spec: { host, ...spec, ...(subsets.length ? { subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) } : {}) },
  };
}

export function subsetRequest(namespace: string, service: string, version: string, subsetName = version): SubsetRequest {
  return {
    namespace,
    service,
    host: `${service}.${namespace}.svc.${settings.clusterDomain}`,
    subsetName,
    labels: { version },
  };
}

export const names = (rules: readonly DestinationRule[]): string[] => rules.map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
