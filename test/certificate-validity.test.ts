// Certificate rotation loads only a pair that is valid now and whose key
// matches (SPEC §6): an expired, not-yet-valid or mismatched pair keeps the
// current certificate in service and logs a warning.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { parseServeConfig } from '../src/config.js';
import { unusableReason } from '../src/server/certificate-reloader.js';
import { startWithConfig, type StartedServer } from '../src/server/start.js';
import { generateCertificates, type GeneratedCertificates } from '../src/tls/dev-certs.js';
import { review } from './support/app-harness.js';
import { memoryLogger } from './support/kube-fixtures.js';
import { virtualService } from './support/objects.js';
import { openTls, rawPost, readResponse, SecretVolume } from './support/reliability-tls.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A serving certificate from the CA, valid from `notBefore` to `notAfter`. */
async function leaf(ca: GeneratedCertificates, notBefore: Date, notAfter: Date): Promise<{ cert: string; key: string }> {
  const made = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    notBeforeDate: notBefore, notAfterDate: notAfter,
    ca: { key: ca.caKey, cert: ca.caCert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: made.cert, key: made.private };
}

const serial = (pem: string): string => new X509Certificate(pem).serialNumber;

describe('certificate validity on rotation', () => {
  let dir: string;
  let secret: SecretVolume;
  let started: StartedServer;
  let ca: GeneratedCertificates;
  const log = memoryLogger('info');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-webhook-validity-'));
    ca = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    secret = new SecretVolume(join(dir, 'secret'));
    secret.publish(ca.cert, ca.key);
    const config = parseServeConfig([
      '--standalone', '--port', '0', '--bind-address', '127.0.0.1',
      '--tls-cert', secret.certPath, '--tls-key', secret.keyPath, '--cert-dir', join(dir, 'unused'),
      // Only explicit reloads in this test: the poll would race the assertions.
      '--cert-reload-interval-ms', '3600000', '--shutdown-grace-ms', '1000',
    ], {});
    started = await startWithConfig(config, log.logger);
  });

  after(async () => {
    await started.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  async function servedSerial(): Promise<string> {
    const { socket, serialNumber } = await openTls(started.running.port, { ca: ca.caCert });
    socket.destroy();
    return serialNumber;
  }

  async function smallReviewStatus(): Promise<number> {
    const { socket } = await openTls(started.running.port, { ca: ca.caCert });
    const body = JSON.stringify(review(virtualService('demo4', 'demo4', [{ weight: 100 }])));
    socket.write(rawPost('/validate', body).head + body);
    const answer = await readResponse(socket);
    socket.destroy();
    return answer.status;
  }

  const now = Date.now();
  const cases: Array<[string, () => Promise<{ cert: string; key: string }>, RegExp]> = [
    ['expired', () => leaf(ca, new Date(now - 10 * DAY_MS), new Date(now - DAY_MS)), /expired at/],
    ['not yet valid', () => leaf(ca, new Date(now + DAY_MS), new Date(now + 10 * DAY_MS)), /not valid before/],
    ['with a key that does not match', async () => ({ cert: (await leaf(ca, new Date(now - DAY_MS), new Date(now + DAY_MS))).cert, key: (await leaf(ca, new Date(now - DAY_MS), new Date(now + DAY_MS))).key }), /does not match|key values mismatch/],
  ];
  for (const [what, make, reason] of cases) {
    it(`keeps the current certificate and warns when the new pair is ${what}`, async () => {
      const current = await servedSerial();
      const pair = await make();
      secret.publish(pair.cert, pair.key);
      await started.running.reloadCertificates();
      assert.equal(await servedSerial(), current, 'still the current certificate');
      const warned = log.lines.filter((line) => line.level === 40 && reason.test(JSON.stringify(line)));
      assert.ok(warned.length > 0, `a warning matching ${reason}; got ${JSON.stringify(log.lines.slice(-3))}`);
      assert.equal(await smallReviewStatus(), 200);
    });
  }

  it('then loads a pair that is valid now', async () => {
    const good = await leaf(ca, new Date(now - DAY_MS), new Date(now + DAY_MS));
    secret.publish(good.cert, good.key);
    await started.running.reloadCertificates();
    assert.equal(await servedSerial(), serial(good.cert));
    assert.equal(await smallReviewStatus(), 200);
  });

  it('unusableReason accepts a valid pair and names each problem', async () => {
    const good = await leaf(ca, new Date(now - DAY_MS), new Date(now + DAY_MS));
    const pair = { cert: Buffer.from(good.cert), key: Buffer.from(good.key) };
    assert.equal(unusableReason(pair), undefined);
    assert.match(unusableReason(pair, now + 2 * DAY_MS) ?? '', /expired/);
    assert.match(unusableReason(pair, now - 2 * DAY_MS) ?? '', /not valid before/);
    assert.match(unusableReason({ cert: pair.cert, key: Buffer.from(ca.key) }) ?? '', /does not match/);
  });
});
