// Self-signed TLS material for the webhook: a private CA plus a serving
// certificate it signs. Used by standalone `serve` (localhost) and by
// `make certs` (the in-cluster Service names). The API server verifies the
// serving certificate against the caBundle, so the CA, not the leaf, is what
// goes into the webhook configurations: the leaf can then be re-issued without
// touching them.
import { X509Certificate } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface CertificateRequest {
  /** DNS subject alternative names; the first also becomes the subject CN when it fits. */
  dnsNames: string[];
  ipAddresses?: string[];
  /** Validity of both the CA and the serving certificate (default 365). */
  validityDays?: number;
}

export interface GeneratedCertificates {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface DevCertificatePaths {
  certPath: string;
  keyPath: string;
  caPath: string;
}

type GenerateOptions = NonNullable<Parameters<typeof generate>[1]>;

// P-256 keys: generated in milliseconds (RSA-2048 takes far longer, which
// tests and `serve` start-up feel), and accepted by Go's crypto/tls in the
// API server and by Node.
const keyOptions = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } satisfies GenerateOptions;

// Backdated so a certificate made on a laptop whose clock runs ahead of the
// cluster's is not "not yet valid" to the API server.
const clockSkewMs = 5 * 60 * 1000;

// RFC 5280 caps the CN at 64 characters; long Service FQDNs stay in the SANs only.
const maxCommonNameLength = 64;

export async function generateCertificates(request: CertificateRequest): Promise<GeneratedCertificates> {
  const dnsNames = request.dnsNames.filter((name) => name !== '');
  const ipAddresses = request.ipAddresses ?? [];
  if (dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new Error('generateCertificates: give at least one DNS name or IP address');
  }
  const validityDays = request.validityDays ?? 365;
  if (!Number.isInteger(validityDays) || validityDays < 1) {
    throw new Error(`generateCertificates: validityDays must be a positive integer, got ${validityDays}`);
  }
  const notBeforeDate = new Date(Date.now() - clockSkewMs);
  const notAfterDate = new Date(notBeforeDate.getTime() + validityDays * 24 * 60 * 60 * 1000 + clockSkewMs);

  const ca = await generate([{ name: 'commonName', value: 'canary-webhook CA' }, { name: 'organizationName', value: 'canary-webhook' }], {
    ...keyOptions,
    notBeforeDate,
    notAfterDate,
    extensions: [
      // pathLen 0: this CA signs serving certificates only, never another CA.
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });

  const firstDnsName = dnsNames[0];
  const commonName = firstDnsName !== undefined && firstDnsName.length <= maxCommonNameLength ? firstDnsName : 'canary-webhook';
  const leaf = await generate([{ name: 'commonName', value: commonName }], {
    ...keyOptions,
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      // ECDSA keys sign the handshake; keyEncipherment only applies to RSA key transport.
      { name: 'keyUsage', digitalSignature: true, critical: true },
      // serverAuth only: this key must not be usable as a client identity.
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dnsNames.map((value) => ({ type: 2 as const, value })), ...ipAddresses.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });

  return { caCert: ca.cert, caKey: ca.private, cert: leaf.cert, key: leaf.private };
}

const devDnsNames = ['localhost'];
const devIpAddresses = ['127.0.0.1', '::1'];

/**
 * Makes sure `dir` holds `tls.crt` and `tls.key` for standalone `serve`,
 * generating a dev CA and a localhost certificate when neither exists.
 * Files that are already there are never replaced: they may be the
 * operator's own (or `make certs` output).
 */
export async function ensureDevCertificates(dir: string): Promise<DevCertificatePaths> {
  const paths: DevCertificatePaths = {
    certPath: path.join(dir, 'tls.crt'),
    keyPath: path.join(dir, 'tls.key'),
    caPath: path.join(dir, 'ca.crt'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (await pairPresent(paths)) return paths;

  // Several processes (parallel test files, two `serve`s) may start at once;
  // without the lock each writes its own pair and the survivor can be a
  // certificate from one run next to the key of another.
  const release = await acquireLock(path.join(dir, '.dev-certs.lock'));
  try {
    if (await pairPresent(paths)) return paths;
    const generated = await generateCertificates({ dnsNames: devDnsNames, ipAddresses: devIpAddresses });
    // The CA key is not written: nothing else is ever signed with a dev CA.
    await writeFileAtomic(paths.caPath, generated.caCert, 0o644);
    await writeFileAtomic(paths.keyPath, generated.key, 0o600);
    await writeFileAtomic(paths.certPath, generated.cert, 0o644);
    return paths;
  } finally {
    await release();
  }
}

/** True when both files exist; throws when only one does, since generating would overwrite the other. */
async function pairPresent(paths: DevCertificatePaths): Promise<boolean> {
  const [cert, key] = await Promise.all([exists(paths.certPath), exists(paths.keyPath)]);
  if (cert && key) return true;
  if (cert || key) {
    const [present, missing] = cert ? [paths.certPath, paths.keyPath] : [paths.keyPath, paths.certPath];
    throw new Error(`${present} exists but ${missing} does not: restore it, or remove ${present} to get new dev certificates`);
  }
  return false;
}

/**
 * Writes through a temporary file and a rename so a reader (the certificate
 * reloader, a concurrent start-up) never sees half a PEM file.
 */
export async function writeFileAtomic(file: string, content: string, mode: number): Promise<void> {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, file);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

const lockWaitMs = 15_000;
// Generation takes well under a second; a lock this old was left by a process that died.
const staleLockMs = 30_000;

async function acquireLock(lockPath: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = await lockAge(lockPath);
    if (age !== undefined && age > staleLockMs) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${lockPath}; remove it if no other canary-webhook is generating certificates`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function lockAge(lockPath: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** What a certificate file says about itself, for the up-to-date check in `make certs`. */
export function describeCertificate(pem: string): { validTo: Date; dnsNames: string[]; isCA: boolean } {
  const certificate = new X509Certificate(pem);
  const dnsNames = (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length));
  return { validTo: new Date(certificate.validTo), dnsNames, isCA: certificate.ca };
}
