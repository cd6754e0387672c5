// TLS helpers for the reliability tests: raw TLS connections, a hand-written
// HTTP/1.1 exchange over them, and certificate files laid out the way the
// kubelet mounts a Secret (`tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>`),
// so rotation can be done by one atomic symlink swap, as in a cluster.
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';

export interface TlsOpen { socket: TLSSocket; serialNumber: string }

/** Opens a TLS connection to 127.0.0.1 and resolves once the handshake is done. */
export function openTls(port: number, options: ConnectionOptions = {}): Promise<TlsOpen> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve({ socket, serialNumber: socket.getPeerCertificate().serialNumber });
    });
    socket.once('error', reject);
  });
}

/** A POST as bytes, so tests can send it in pieces. */
export function rawPost(path: string, body: string, extraHeaders: Record<string, string> = {}): { head: string; body: string } {
  const headers = { Host: 'localhost', 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...extraHeaders };
  const head = `POST ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return { head, body };
}

export interface RawResponse { status: number; headers: Record<string, string>; body: string }

/** Reads one HTTP/1.1 response (Content-Length framed, as the server answers) from a socket; interim 1xx answers are skipped. */
export function readResponse(socket: TLSSocket, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(buffer.toString('utf8').slice(0, 300))}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      // An interim answer (100 Continue) is not the response: drop it and read on.
      if (/^HTTP\/1\.1 1\d\d/.test(statusLine ?? '')) {
        buffer = buffer.subarray(end + 4);
        onData(Buffer.alloc(0));
        return;
      }
      const headers = Object.fromEntries(lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
      }));
      const length = Number(headers['content-length'] ?? 0);
      if (buffer.length - end - 4 < length) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
      finish(undefined, { status, headers, body: buffer.subarray(end + 4, end + 4 + length).toString('utf8') });
    };
    const onClose = () => finish(new Error(`connection closed before a complete response; got ${JSON.stringify(buffer.toString('utf8').slice(0, 300))}`));
    const finish = (error?: Error, response?: RawResponse) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
      if (error) reject(error);
      else resolve(response!);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onClose);
  });
}

/** Writes `tls.crt`/`tls.key` into `dir` as a mounted Secret: files are symlinks through `..data`. */
export class SecretVolume {
  private generation = 0;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  get certPath(): string {
    return join(this.dir, 'tls.crt');
  }

  get keyPath(): string {
    return join(this.dir, 'tls.key');
  }

  /** Publishes a new pair atomically: new timestamped folder, then `..data` swapped by rename. */
  publish(cert: string, key: string): void {
    this.generation += 1;
    const folder = `..2026_01_01_00_00_0${this.generation}.${process.pid}`;
    mkdirSync(join(this.dir, folder));
    writeFileSync(join(this.dir, folder, 'tls.crt'), cert);
    writeFileSync(join(this.dir, folder, 'tls.key'), key);
    symlinkSync(folder, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.generation === 1) {
      symlinkSync(join('..data', 'tls.crt'), this.certPath);
      symlinkSync(join('..data', 'tls.key'), this.keyPath);
    }
  }
}

/**
 * A new serving certificate from an existing CA, as cert-manager renews one:
 * clients keep trusting the same caBundle. (generateCertificates makes a new
 * CA each time, and CAs sharing a subject name confuse chain building.)
 */
export async function renewLeaf(ca: { caCert: string; caKey: string }): Promise<{ cert: string; key: string }> {
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 24 * 60 * 60 * 1000),
    ca: { key: ca.caKey, cert: ca.caCert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: leaf.cert, key: leaf.private };
}

/** Resolves once `socket` receives `100 Continue`: the server has parsed the request headers and is reading the body. */
export function waitForContinue(socket: TLSSocket, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`no 100 Continue within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (/^HTTP\/1\.1 100 /.test(seen) && seen.includes('\r\n\r\n')) done();
    };
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      if (error) reject(error);
      else resolve();
    };
    socket.on('data', onData);
  });
}
