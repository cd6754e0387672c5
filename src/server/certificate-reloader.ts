// Keeps a TLS server on the current certificate files. cert-manager and a
// re-mounted Secret replace files by swapping a `..data` symlink, which a
// watch on the file itself misses, so the directory is watched and the files
// are also re-read on an interval; only a pair that loads is ever used.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';

export interface CertificatePair { cert: Buffer; key: Buffer }

export interface CertificateReloaderOptions {
  certPath: string;
  keyPath: string;
  intervalMs: number;
  logger: Logger;
  onChange: (pair: CertificatePair) => void;
}

export async function readCertificatePair(certPath: string, keyPath: string): Promise<CertificatePair> {
  const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
  // Throws on a mismatched or half-written pair, so it is never handed to the server.
  createSecureContext({ cert, key });
  return { cert, key };
}

export function watchCertificates(initial: CertificatePair, options: CertificateReloaderOptions): { close(): void; checkNow(): Promise<void> } {
  let fingerprint = fingerprintOf(initial);
  let checking: Promise<void> | undefined;
  const check = (): Promise<void> => {
    checking ??= (async () => {
      try {
        const pair = await readCertificatePair(options.certPath, options.keyPath);
        const next = fingerprintOf(pair);
        if (next !== fingerprint) {
          fingerprint = next;
          options.onChange(pair);
          options.logger.info({ certPath: options.certPath }, 'TLS certificate reloaded');
        }
      } catch (error) {
        options.logger.warn({ err: (error as Error).message }, 'TLS certificate files unreadable or mismatched; keeping the current certificate');
      } finally {
        checking = undefined;
      }
    })();
    return checking;
  };
  const watchers: FSWatcher[] = [];
  for (const directory of new Set([dirname(options.certPath), dirname(options.keyPath)])) {
    try {
      watchers.push(watch(directory, { persistent: false }, () => void check()));
    } catch {
      // The interval below still catches changes where fs events are unavailable.
    }
  }
  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();
  return {
    close() {
      clearInterval(timer);
      for (const watcher of watchers) watcher.close();
    },
    checkNow: check,
  };
}

function fingerprintOf(pair: CertificatePair): string {
  return createHash('sha256').update(pair.cert).update(pair.key).digest('hex');
}
