// TLS on the admission port (SPEC §6, issue 7 "TLS and the server"): old
// protocol versions are refused, plain HTTP gets no admission answer, and
// certificate files replaced the way a Secret volume or cert-manager does
// it are picked up by new connections while connections already open finish.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseServeConfig } from '../src/config.js';
import { startWithConfig, type StartedServer } from '../src/server/start.js';
import { generateCertificates, type GeneratedCertificates } from '../src/tls/dev-certs.js';
import { review } from './support/app-harness.js';
import { virtualService } from './support/objects.js';
import { openTls, rawPost, readResponse, renewLeaf, SecretVolume } from './support/reliability-tls.js';
import { startStandalone, type Standalone } from './support/standalone.js';

const tls11 = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

function reviewBody(): { body: string; uid: string } {
  const body = review(virtualService('demo4', 'demo4', [{ weight: 100 }]));
  return { body: JSON.stringify(body), uid: (body.request as { uid: string }).uid };
}

describe('TLS on the admission port', () => {
  let standalone: Standalone;
  let port: number;

  before(async () => {
    standalone = await startStandalone();
    port = standalone.started.running.port;
  });

  after(async () => {
    await standalone.started.shutdown();
    rmSync(standalone.certDir, { recursive: true, force: true });
  });

  it('refuses a TLS 1.1 client with a protocol-version alert', async () => {
    await assert.rejects(openTls(port, { ca: standalone.ca, ...tls11 }), (error: NodeJS.ErrnoException) => {
      // The alert comes from the server: the client did offer TLS 1.1 (SECLEVEL=0 lets OpenSSL 3 do so).
      assert.equal(error.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
      return true;
    });
    await assert.rejects(openTls(port, { ca: standalone.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }));
  });

  it('accepts TLS 1.2 and TLS 1.3 and answers a review', async () => {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const { socket } = await openTls(port, { ca: standalone.ca, maxVersion });
      assert.equal(socket.getProtocol(), maxVersion);
      const { body, uid } = reviewBody();
      const { head } = rawPost('/validate', body);
      socket.write(head + body);
      const response = await readResponse(socket);
      assert.equal(response.status, 200);
      assert.equal((JSON.parse(response.body) as { response: { uid: string } }).response.uid, uid);
      socket.destroy();
    }
  });

  it('gives a plain-HTTP request no admission answer', async () => {
    const { body } = reviewBody();
    const { head } = rawPost('/validate', body);
    const received = await new Promise<string>((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(Buffer.concat(chunks).toString('latin1'));
      }, 5_000);
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('latin1'));
      });
      socket.on('connect', () => socket.write(head + body));
      socket.on('timeout', reject);
    });
    assert.doesNotMatch(received, /AdmissionReview/);
    assert.doesNotMatch(received, /^HTTP\/1\.[01] 2\d\d/);
  });
});

describe('certificate rotation', () => {
  let dir: string;
  let secret: SecretVolume;
  let started: StartedServer;
  let port: number;
  let first: GeneratedCertificates;
  let second: { cert: string; key: string };
  let third: { cert: string; key: string };
  let cas: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-webhook-rotation-'));
    const request = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
    first = await generateCertificates(request);
    [second, third] = await Promise.all([renewLeaf(first), renewLeaf(first)]);
    cas = first.caCert;
    secret = new SecretVolume(join(dir, 'secret'));
    secret.publish(first.cert, first.key);
    const config = parseServeConfig([
      '--standalone', '--port', '0', '--bind-address', '127.0.0.1',
      '--tls-cert', secret.certPath, '--tls-key', secret.keyPath,
      '--cert-dir', join(dir, 'unused'),
      '--cert-reload-interval-ms', '200',
      '--shutdown-grace-ms', '2000',
    ], {});
    started = await startWithConfig(config, pino({ level: 'silent' }));
    port = started.running.port;
  });

  after(async () => {
    await started.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serialOfNewConnection(): Promise<string> {
    const { socket, serialNumber } = await openTls(port, { ca: cas });
    socket.destroy();
    return serialNumber;
  }

  it('presents the new certificate to new connections after a symlink swap, while open connections finish', async () => {
    assert.notEqual(serial(first.cert), serial(second.cert));
    assert.equal(await serialOfNewConnection(), serial(first.cert));

    // A keep-alive connection with one request done, and another with a request half sent.
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: cas });
    const before = await agentPost(agent, port);
    assert.equal(before.serialNumber, serial(first.cert));
    const inFlight = await openTls(port, { ca: cas });
    const { body, uid } = reviewBody();
    const { head } = rawPost('/validate', body);
    inFlight.socket.write(head + body.slice(0, 10));
    const inFlightAnswer = readResponse(inFlight.socket);

    // Rotation as the kubelet does it: a new folder, then `..data` swapped by rename. The watcher (fs events or the 200 ms poll) picks it up.
    secret.publish(second.cert, second.key);
    await waitFor(async () => (await serialOfNewConnection()) === serial(second.cert), 10_000, 'new connections to present the rotated certificate');

    // The request that was half sent before the swap completes on its old connection.
    inFlight.socket.write(body.slice(10));
    const answered = await inFlightAnswer;
    assert.equal(answered.status, 200);
    assert.equal((JSON.parse(answered.body) as { response: { uid: string } }).response.uid, uid);
    assert.equal(inFlight.socket.getPeerCertificate().serialNumber, serial(first.cert));
    inFlight.socket.destroy();

    // The idle keep-alive connection opened before the swap is reused and still works.
    const reused = await agentPost(agent, port);
    assert.equal(reused.reusedSocket, true);
    assert.equal(reused.serialNumber, serial(first.cert));
    assert.equal(reused.status, 200);
    agent.destroy();

    // An explicit reload (what a deployment may trigger) works the same way.
    secret.publish(third.cert, third.key);
    await started.running.reloadCertificates();
    assert.equal(await serialOfNewConnection(), serial(third.cert));
  });

  it('keeps TLS ≥ 1.2 after a reload', async () => {
    await assert.rejects(openTls(port, { ca: cas, ...tls11 }), { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
  });

  it('keeps the current certificate when the new files do not match', async () => {
    const current = await serialOfNewConnection();
    // A half-finished rotation: the new certificate next to the old key.
    secret.publish(first.cert, third.key);
    await started.running.reloadCertificates();
    assert.equal(await serialOfNewConnection(), current);
    const { socket } = await openTls(port, { ca: cas });
    const { body } = reviewBody();
    socket.write(rawPost('/validate', body).head + body);
    assert.equal((await readResponse(socket)).status, 200);
    socket.destroy();
  });
});

function serial(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}

async function agentPost(agent: Agent, port: number): Promise<{ status: number; serialNumber: string; reusedSocket: boolean }> {
  const { body } = reviewBody();
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'localhost', path: '/validate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const socket = res.socket as TLSSocket;
      const serialNumber = socket.getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, serialNumber, reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
