// HTTPS around the app: TLS ≥ 1.2, certificate reload, timeouts tuned for the
// API server's connection reuse, and a drain on shutdown.
import type { Server } from 'node:https';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import { readCertificatePair, unusableReason, watchCertificates } from './certificate-reloader.js';

export interface ServeOptions {
  port: number;
  bindAddress: string;
  certPath: string;
  keyPath: string;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  certReloadIntervalMs: number;
  /** Open connections at once; Node refuses the rest (default: no cap). */
  maxConnections?: number;
  logger: Logger;
  /** Told about each certificate served, the first and every reloaded one (the expiry metric). */
  onCertificate?: (certPem: Buffer) => void;
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Re-read the certificate files now instead of waiting for the interval. */
  reloadCertificates(): Promise<void>;
  /** Stop accepting, let in-flight requests answer for up to `graceMs`, then close everything. */
  close(graceMs: number): Promise<{ drained: boolean }>;
}

export async function serve(app: RequestListener, options: ServeOptions): Promise<RunningServer> {
  const initial = await readCertificatePair(options.certPath, options.keyPath);
  options.onCertificate?.(initial.cert);
  // Nothing else to serve at start-up: used anyway, but said loudly.
  const initialProblem = unusableReason(initial);
  if (initialProblem !== undefined) options.logger.warn({ certPath: options.certPath, reason: initialProblem }, `TLS certificate is not usable by the API server: ${initialProblem}`);
  const server = createServer({
    cert: initial.cert,
    key: initial.key,
    minVersion: 'TLSv1.2',
    // Idle API-server connections live up to 90 s; closing them sooner makes it see resets.
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // A client dribbling headers or a body is cut off quickly regardless of keep-alive.
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    // How often those two timeouts are checked; Node's 30 s default would let a dribbler linger.
    connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs),
    // A TLS handshake that never finishes holds a socket too: same bound as headers.
    handshakeTimeout: options.headersTimeoutMs,
  }, app);
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  server.on('drop', (data?: { remoteAddress?: string }) => {
    options.logger.warn({ remote: data?.remoteAddress, maxConnections: server.maxConnections }, 'connection refused: --max-connections reached');
  });
  server.on('tlsClientError', (error, socket) => {
    options.logger.debug({ err: error.message, remote: socket.remoteAddress }, 'TLS handshake failed');
  });
  closeSilentConnections(server, options.headersTimeoutMs);
  const reloader = watchCertificates(initial, {
    certPath: options.certPath,
    keyPath: options.keyPath,
    intervalMs: options.certReloadIntervalMs,
    logger: options.logger,
    onChange: (pair) => {
      server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
      options.onCertificate?.(pair.cert);
    },
  });

  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    server,
    port,
    reloadCertificates: () => reloader.checkNow(),
    async close(graceMs) {
      reloader.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + graceMs;
      // Connections become idle once their in-flight answer is sent; close them as they do.
      while (sockets.size > 0 && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const drained = sockets.size === 0;
      server.closeAllConnections();
      await closed;
      return { drained };
    },
  };
}

/**
 * Node's header timeout starts with a request's first byte, and the long
 * keep-alive timeout only after a response: a TLS connection that never
 * sends a request is held for ever (4,000 of them took RSS from 146 to
 * 291 MiB). Such a connection is closed at the header timeout.
 */
function closeSilentConnections(server: Server, headersTimeoutMs: number): void {
  const spoke = new WeakSet<Socket>();
  server.on('request', (req: { socket: Socket }) => {
    spoke.add(req.socket);
  });
  server.on('secureConnection', (socket: Socket) => {
    const timer = setTimeout(() => {
      // Timers run before pending socket reads: after a busy stretch the
      // request may be waiting unread. Look again once it has been read.
      setImmediate(() => {
        if (!spoke.has(socket)) socket.destroy();
      });
    }, headersTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
