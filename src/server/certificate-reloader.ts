// Keeps a TLS server on the current certificate files. cert-manager and a
// re-mounted Secret replace files by swapping a `..data` symlink, which a
// watch on the file itself misses, so the directory is watched and the files
// are also re-read on an interval; only a pair that loads, is valid now and
// whose key matches is ever swapped in.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
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

/**
 * Why a pair must not replace the one being served (SPEC §6), or undefined:
 * the API server refuses an expired or not-yet-valid certificate, so
 * swapping one in would fail every review until the next rotation.
 */
export function unusableReason(pair: CertificatePair, nowMs: number = Date.now()): string | undefined {
  let leaf: X509Certificate;
  try {
    // The first PEM block is the serving certificate; a chain may follow.
    leaf = new X509Certificate(pair.cert);
  } catch (error) {
    return `the certificate does not parse: ${(error as Error).message}`;
  }
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (nowMs < notBefore) return `the certificate is not valid before ${new Date(notBefore).toISOString()}`;
  if (nowMs > notAfter) return `the certificate expired at ${new Date(notAfter).toISOString()}`;
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(pair.key))) return 'the private key does not match the certificate';
  } catch (error) {
    return `the private key does not parse: ${(error as Error).message}`;
  }
  return undefined;
}

/** When the served certificate expires (epoch ms), for the expiry metric and the log. */
export function expiresAtMs(pair: CertificatePair): number | undefined {
  try {
    return Date.parse(new X509Certificate(pair.cert).validTo);
  } catch {
    return undefined;
  }
}

export function watchCertificates(initial: CertificatePair, options: CertificateReloaderOptions): { close(): void; checkNow(): Promise<void> } {
  let fingerprint = fingerprintOf(initial);
  let refused: string | undefined;
  const checkOnce = async (): Promise<void> => {
    try {
      const pair = await readCertificatePair(options.certPath, options.keyPath);
      const next = fingerprintOf(pair);
      if (next !== fingerprint && next !== refused) {
        const reason = unusableReason(pair);
        if (reason !== undefined) {
          // Warned once per pair, not at every poll.
          refused = next;
          options.logger.warn({ certPath: options.certPath, reason }, `new TLS certificate not loaded: ${reason}; keeping the current certificate`);
          return;
        }
        fingerprint = next;
        options.onChange(pair);
        options.logger.info({ certPath: options.certPath }, 'TLS certificate reloaded');
      }
    } catch (error) {
      options.logger.warn({ err: (error as Error).message }, 'TLS certificate files unreadable or mismatched; keeping the current certificate');
    }
  };
  let checking: Promise<void> | undefined;
  let again: Promise<void> | undefined;
  // One read at a time. A check asked for while one runs may be about files
  // written after that one read them (a rotation, then reloadCertificates()),
  // so it gets one more read once the current one ends, shared by every
  // caller that asked meanwhile, rather than the current, possibly stale, one.
  const check = (): Promise<void> => {
    if (!checking) {
      checking = checkOnce().finally(() => {
        checking = undefined;
      });
      return checking;
    }
    again ??= checking.then(() => {
      again = undefined;
      return check();
    });
    return again;
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
