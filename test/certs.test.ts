// The self-signed certificates must be what the API server needs: a serving
// certificate for the Service names that chains to the CA put in caBundle,
// and nothing a client that trusts only that CA would refuse.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseImageReference, runCertsCommand, serviceDnsNames, writeServingCertificates } from '../src/tls/certs-command.js';
import { ensureDevCertificates, generateCertificates, type GeneratedCertificates } from '../src/tls/dev-certs.js';

const serviceNames = serviceDnsNames('canary-webhook', 'canary-webhook', 'cluster.local');
const serverAuthOid = '1.3.6.1.5.5.7.3.1';

let workDir: string;
before(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'canary-webhook-certs-'));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function listen(pems: { cert: string; key: string }, host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: pems.cert, key: pems.key, minVersion: 'TLSv1.2' }, (_request, response) => {
    response.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** GET over TLS; `servername` is what the client checks the certificate against (the API server dials `<svc>.<ns>.svc`). */
function request(options: { host: string; port: number; servername?: string; ca?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const outgoing = get(
      {
        host: options.host,
        port: options.port,
        path: '/',
        servername: options.servername,
        ca: options.ca,
        // A fresh connection per call: a pooled TLS session would skip the verification under test.
        agent: false,
        timeout: 5_000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body));
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', reject);
  });
}

describe('generateCertificates', () => {
  let pems: GeneratedCertificates;
  before(async () => {
    pems = await generateCertificates({ dnsNames: serviceNames, validityDays: 30 });
  });

  test('the serving certificate is a leaf signed by the CA', () => {
    const ca = new X509Certificate(pems.caCert);
    const leaf = new X509Certificate(pems.cert);
    assert.equal(ca.ca, true, 'the CA has basicConstraints CA:TRUE');
    assert.equal(ca.checkIssued(ca), true, 'the CA is self-issued');
    assert.equal(leaf.ca, false, 'the serving certificate cannot sign others');
    assert.equal(leaf.checkIssued(ca), true);
    assert.equal(leaf.verify(ca.publicKey), true);
    assert.equal(leaf.verify(leaf.publicKey), false, 'not self-signed');
  });

  test('names every Service DNS name, is for server auth, and is valid now', () => {
    const leaf = new X509Certificate(pems.cert);
    for (const name of serviceNames) assert.equal(leaf.checkHost(name), name, name);
    assert.equal(leaf.checkHost('canary-webhook.other.svc'), undefined);
    assert.deepEqual(leaf.keyUsage, [serverAuthOid]);
    const now = Date.now();
    assert.ok(Date.parse(leaf.validFrom) < now && now < Date.parse(leaf.validTo));
    const days = (Date.parse(leaf.validTo) - now) / 86_400_000;
    assert.ok(days > 29 && days < 31, `about 30 days, got ${days}`);
  });

  test('the key pairs with the certificate', () => {
    assert.equal(new X509Certificate(pems.cert).checkPrivateKey(createPrivateKey(pems.key)), true);
    assert.equal(new X509Certificate(pems.caCert).checkPrivateKey(createPrivateKey(pems.caKey)), true);
  });

  test('an HTTPS server with it is trusted by a client that trusts only the CA', async () => {
    const { server, port } = await listen(pems);
    try {
      for (const servername of serviceNames) {
        assert.equal(await request({ host: '127.0.0.1', port, servername, ca: pems.caCert }), 'ok');
      }
      // The system roots do not include a private CA.
      await assert.rejects(request({ host: '127.0.0.1', port, servername: serviceNames[0] }), (error: NodeJS.ErrnoException) => {
        assert.match(String(error.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED/);
        return true;
      });
      // Another CA with the same subject is still another CA.
      const other = await generateCertificates({ dnsNames: serviceNames });
      await assert.rejects(request({ host: '127.0.0.1', port, servername: serviceNames[0], ca: other.caCert }));
      // A name the certificate does not carry.
      await assert.rejects(request({ host: '127.0.0.1', port, servername: 'canary-webhook.default.svc', ca: pems.caCert }), (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
        return true;
      });
    } finally {
      await close(server);
    }
  });

  test('refuses to make a certificate that names nothing', async () => {
    await assert.rejects(generateCertificates({ dnsNames: [] }), /at least one DNS name or IP address/);
    await assert.rejects(generateCertificates({ dnsNames: ['x'], validityDays: 0 }), /validityDays/);
  });
});

describe('ensureDevCertificates (standalone serve)', () => {
  test('generates a localhost certificate once, with a private key only its owner reads', async () => {
    const dir = path.join(workDir, 'dev');
    const paths = await ensureDevCertificates(dir);
    assert.deepEqual(paths, { certPath: path.join(dir, 'tls.crt'), keyPath: path.join(dir, 'tls.key'), caPath: path.join(dir, 'ca.crt') });
    assert.equal((await stat(paths.keyPath)).mode & 0o777, 0o600);
    const cert = await readFile(paths.certPath, 'utf8');
    const ca = await readFile(paths.caPath, 'utf8');
    const leaf = new X509Certificate(cert);
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkIP('::1'), '::1');
    assert.equal(leaf.verify(new X509Certificate(ca).publicKey), true);

    const again = await ensureDevCertificates(dir);
    assert.deepEqual(again, paths);
    assert.equal(await readFile(paths.certPath, 'utf8'), cert, 'existing files are kept');

    const { server, port } = await listen({ cert, key: await readFile(paths.keyPath, 'utf8') });
    try {
      assert.equal(await request({ host: '127.0.0.1', port, ca }), 'ok');
      assert.equal(await request({ host: '127.0.0.1', port, servername: 'localhost', ca }), 'ok');
    } finally {
      await close(server);
    }
  });

  test('concurrent starts end with one matching certificate and key', async () => {
    const dir = path.join(workDir, 'dev-race');
    const results = await Promise.all([ensureDevCertificates(dir), ensureDevCertificates(dir), ensureDevCertificates(dir)]);
    assert.equal(new Set(results.map((result) => result.certPath)).size, 1);
    const leaf = new X509Certificate(await readFile(results[0]!.certPath, 'utf8'));
    assert.equal(leaf.checkPrivateKey(createPrivateKey(await readFile(results[0]!.keyPath, 'utf8'))), true);
  });

  test('never overwrites half a pair the operator left there', async () => {
    const dir = path.join(workDir, 'dev-half');
    await ensureDevCertificates(dir);
    await rm(path.join(dir, 'tls.key'));
    await assert.rejects(ensureDevCertificates(dir), /tls\.crt exists but .*tls\.key does not/);
  });
});

describe('make certs', () => {
  test('writes CA and serving certificate for the Service into the output folder, keys 0600', async () => {
    const outDir = path.join(workDir, 'certs');
    const result = await writeServingCertificates({ namespace: 'canary-webhook', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 365, force: false });
    assert.equal(result.generated, true);
    assert.deepEqual(result.dnsNames, ['canary-webhook.canary-webhook.svc', 'canary-webhook.canary-webhook.svc.cluster.local']);
    for (const file of [result.caKeyPath, result.keyPath]) assert.equal((await stat(file)).mode & 0o777, 0o600, file);
    const leaf = new X509Certificate(await readFile(result.certPath, 'utf8'));
    const ca = new X509Certificate(await readFile(result.caPath, 'utf8'));
    assert.equal(leaf.checkIssued(ca), true);
    assert.equal(leaf.verify(ca.publicKey), true);
    for (const name of result.dnsNames) assert.equal(leaf.checkHost(name), name);

    // Re-running keeps good files (a stable caBundle); a new namespace or --force replaces them.
    const rerun = await writeServingCertificates({ namespace: 'canary-webhook', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 365, force: false });
    assert.equal(rerun.generated, false);
    const moved = await writeServingCertificates({ namespace: 'team-a', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 365, force: false });
    assert.equal(moved.generated, true);
    assert.equal(new X509Certificate(await readFile(moved.certPath, 'utf8')).checkHost('canary-webhook.team-a.svc'), 'canary-webhook.team-a.svc');
    const forced = await writeServingCertificates({ namespace: 'team-a', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 365, force: true });
    assert.equal(forced.generated, true);
  });

  test('replaces files it cannot use instead of failing', async () => {
    const outDir = path.join(workDir, 'certs-broken');
    const first = await writeServingCertificates({ namespace: 'canary-webhook', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 365, force: false });
    await writeFile(first.certPath, 'not a certificate');
    const second = await writeServingCertificates({ namespace: 'canary-webhook', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 365, force: false });
    assert.equal(second.generated, true);
    // A certificate expiring within the renewal window is replaced too.
    const shortLived = await writeServingCertificates({ namespace: 'canary-webhook', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 7, force: true });
    assert.equal(shortLived.generated, true);
    const renewed = await writeServingCertificates({ namespace: 'canary-webhook', service: 'canary-webhook', outDir, clusterDomain: 'cluster.local', validityDays: 365, force: false });
    assert.equal(renewed.generated, true);
  });

  test('the command rejects bad flags with exit code 2', async () => {
    const stderr = process.stderr.write;
    process.stderr.write = () => true;
    try {
      assert.equal(await runCertsCommand(['--namespace', 'Not_A_Namespace', '--out', path.join(workDir, 'never')]), 2);
      assert.equal(await runCertsCommand(['--validity-days', 'soon']), 2);
      assert.equal(await runCertsCommand(['--no-such-flag']), 2);
    } finally {
      process.stderr.write = stderr;
    }
  });

  test('image references split into kustomize name, tag and digest', () => {
    assert.deepEqual(parseImageReference('canary-webhook:dev'), { newName: 'canary-webhook', newTag: 'dev' });
    assert.deepEqual(parseImageReference('localhost:5000/team/canary-webhook'), { newName: 'localhost:5000/team/canary-webhook' });
    assert.deepEqual(parseImageReference('localhost:5000/canary-webhook:1.2'), { newName: 'localhost:5000/canary-webhook', newTag: '1.2' });
    assert.deepEqual(parseImageReference('ghcr.io/x/canary-webhook@sha256:abc'), { newName: 'ghcr.io/x/canary-webhook', digest: 'sha256:abc' });
  });
});
