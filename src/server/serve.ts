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
  logger: Logger;
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
  }, app);
  // A TLS handshake that never finishes holds a socket too.
  server.on('tlsClientError', (error, socket) => {
    options.logger.debug({ err: error.message, remote: socket.remoteAddress }, 'TLS handshake failed');
  });
  const reloader = watchCertificates(initial, {
    certPath: options.certPath,
    keyPath: options.keyPath,
    intervalMs: options.certReloadIntervalMs,
    logger: options.logger,
    onChange: (pair) => server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' }),
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
