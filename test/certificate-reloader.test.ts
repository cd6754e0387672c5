// Reloads asked for while one is reading the files (a rotation, then
// reloadCertificates(), or an fs event during the 10 s poll) must end with
// the files as they are after the request, never with what the read already
// in flight saw before the rotation.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { watchCertificates, type CertificatePair } from '../src/server/certificate-reloader.js';
import { generateCertificates, type GeneratedCertificates } from '../src/tls/dev-certs.js';
import { renewLeaf, SecretVolume } from './support/reliability-tls.js';

const serial = (pem: string | Buffer): string => new X509Certificate(pem).serialNumber;

describe('certificate reloads asked for during a reload', () => {
  let dir: string;
  let ca: GeneratedCertificates;
  let leaves: Array<{ cert: string; key: string }>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-webhook-reloader-'));
    ca = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    leaves = await Promise.all(Array.from({ length: 6 }, () => renewLeaf(ca)));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a check asked for while one is reading reads again afterwards: the last rotation is what is served', async () => {
    const secret = new SecretVolume(join(dir, 'secret'));
    secret.publish(ca.cert, ca.key);
    let served: CertificatePair = { cert: Buffer.from(ca.cert), key: Buffer.from(ca.key) };
    const reloader = watchCertificates(served, { certPath: secret.certPath, keyPath: secret.keyPath, intervalMs: 3_600_000, logger: pino({ level: 'silent' }), onChange: (pair) => void (served = pair) });
    try {
      for (const next of leaves) {
        // One check starts reading; the rotation lands; the caller then asks for its own check.
        const inFlight = reloader.checkNow();
        secret.publish(next.cert, next.key);
        const asked = reloader.checkNow();
        await asked;
        assert.equal(serial(served.cert), serial(next.cert));
        await inFlight;
        assert.equal(serial(served.cert), serial(next.cert), 'the earlier read, finished later, does not put an older certificate back');
      }
    } finally {
      reloader.close();
    }
  });
});
