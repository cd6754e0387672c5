// `canary-webhook serve`: wires config, logger, store, app and HTTPS together.
import { pino, type Logger } from 'pino';
import { ConfigError, parseServeConfig, serveUsage, type ServeConfig } from '../config.js';
import type { DestinationRuleStore } from '../store/types.js';
import { createApp } from './app.js';
import { createMetrics } from './metrics.js';
import { serve, type RunningServer } from './serve.js';
import { openStore } from './open-store.js';
import { resolveTlsFiles } from './tls-files.js';
import { packageVersion } from '../version.js';

export interface StartedServer {
  running: RunningServer;
  store: DestinationRuleStore;
  config: ServeConfig;
  /** Drain and stop, as on SIGTERM. */
  shutdown(): Promise<void>;
}

/** Parses flags, starts serving and installs signal handlers; exits the process on a configuration error. */
export async function startServer(argv: readonly string[]): Promise<StartedServer | undefined> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(serveUsage());
    return undefined;
  }
  let config: ServeConfig;
  try {
    config = parseServeConfig(argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`canary-webhook serve: ${error.message}\nRun 'canary-webhook serve --help' for usage.\n`);
    process.exitCode = 2;
    return undefined;
  }
  // Asynchronous destination (issue 16): under load, lines written while a
  // write is in flight are joined into one write(2) instead of one
  // synchronous syscall per review. Still one line per review; flushed on
  // SIGTERM below and, by pino's exit hook, on any other exit.
  const logger = pino({ level: config.logLevel, base: { service: 'canary-webhook' } }, pino.destination({ dest: 1, sync: false }));
  try {
    const started = await startWithConfig(config, logger);
    installSignalHandlers(started, logger);
    return started;
  } catch (error) {
    // Start-up problems (no Istio CRDs, unreadable certificates) are the
    // operator's to fix: one clear line, no stack trace, non-zero exit.
    logger.fatal({ err: (error as Error).message }, 'canary-webhook could not start');
    process.exitCode = 1;
    return undefined;
  }
}

export async function startWithConfig(config: ServeConfig, logger: Logger): Promise<StartedServer> {
  // The cache-size gauge asks the store, which needs the metrics for its write counter.
  const storeRef: { current?: DestinationRuleStore } = {};
  const metrics = createMetrics({ size: () => storeRef.current?.size() ?? 0 });
  const opened = await openStore(config, logger, metrics);
  storeRef.current = opened.store;
  let shuttingDown = false;
  const app = createApp({
    store: opened.store,
    settings: config.settings,
    logger,
    metrics,
    onSubsetError: config.onSubsetError,
    subsetWriteTimeoutMs: config.subsetWriteTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    maxInFlight: config.maxInFlight,
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    maxDirectReads: config.maxDirectReads,
    isShuttingDown: () => shuttingDown,
    guardMode: config.guardMode,
    readiness: config.maxReadyReads > 0 ? { reader: opened.workloads, maxReads: config.maxReadyReads, timeoutMs: config.readyTimeoutMs } : undefined,
  });
  let running: RunningServer;
  try {
    const tls = await resolveTlsFiles(config, opened.standalone, logger);
    running = await serve(app, {
      port: config.port,
      bindAddress: config.bindAddress,
      certPath: tls.certPath,
      keyPath: tls.keyPath,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      certReloadIntervalMs: config.certReloadIntervalMs,
      maxConnections: config.maxConnections,
      logger,
      onCertificate: (certPem) => {
        try {
          metrics.certificateServed(certPem);
        } catch (error) {
          logger.warn({ err: (error as Error).message }, 'cannot read the expiry of the served certificate');
        }
      },
    });
  } catch (error) {
    // The store's watches would otherwise keep a process that cannot serve alive.
    opened.workloads.close();
    await opened.store.close();
    throw error;
  }
  logger.info({ version: packageVersion(), node: process.version, port: running.port, certPath: config.tlsCertPath ?? config.certDir }, `canary-webhook listening on https://${config.bindAddress}:${running.port}`);
  let stopping: Promise<void> | undefined;
  return {
    running,
    store: opened.store,
    config,
    shutdown() {
      stopping ??= (async () => {
        shuttingDown = true;
        const { drained } = await running.close(config.shutdownGraceMs);
        opened.workloads.close();
        await opened.store.close();
        logger.info({ drained }, 'canary-webhook stopped');
      })();
      return stopping;
    },
  };
}

function installSignalHandlers(started: StartedServer, logger: Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight reviews');
    started.shutdown().then(
      () => logger.flush(() => process.exit(0)),
      (error: unknown) => {
        logger.error({ err: (error as Error).message }, 'shutdown failed');
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
