// The webhook under test, in its own process: the same startWithConfig and
// the same pino logger as `canary-webhook serve`, so the benchmark measures
// what runs in the cluster (TLS, express app, metrics, one log line per
// review). Logs go wherever the parent points stdout (the bench: /dev/null).
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { parseServeConfig } from '../src/config.js';
import { startWithConfig } from '../src/server/start.js';

export interface AppServerArgs {
  certPath: string;
  keyPath: string;
  /** Kubernetes store against this kubeconfig, or the memory store seeded from seedDir. */
  kubeconfigPath?: string;
  seedDir?: string;
  /** More `serve` flags (bench/readiness.ts: --ready-policy). */
  extraFlags?: string[];
}

const args = JSON.parse(process.argv[2] ?? '{}') as AppServerArgs;
const startedAt = performance.now();
const flags = ['--port', '0', '--bind-address', '127.0.0.1', '--tls-cert', args.certPath, '--tls-key', args.keyPath];
if (args.kubeconfigPath) flags.push('--kubeconfig', args.kubeconfigPath);
else flags.push('--standalone', ...(args.seedDir ? ['--seed-dir', args.seedDir] : []));
flags.push(...(args.extraFlags ?? []));
const config = parseServeConfig(flags, {});
// Exactly the logger startServer builds (BENCH_LOG=sync|async|silent: experiments only).
const experiment = process.env.BENCH_LOG;
const logger = experiment === undefined
  ? pino({ level: config.logLevel, base: { service: 'canary-webhook' } }, pino.destination({ dest: 1, sync: false }))
  : pino({ level: experiment === 'silent' ? 'silent' : config.logLevel, base: { service: 'canary-webhook' } }, pino.destination({ dest: 1, sync: experiment === 'sync' }));
const started = await startWithConfig(config, logger);
while (!started.store.isReady()) await new Promise((resolve) => setTimeout(resolve, 2));
const syncMs = performance.now() - startedAt;
process.send?.({ ready: true, port: started.running.port, syncMs, cachedRules: started.store.size(), store: args.kubeconfigPath ? 'kube' : 'memory' });

const stop = (): void => {
  void started.shutdown().then(() => logger.flush(() => process.exit(0)));
};
process.on('message', (message) => {
  if (message === 'stop') stop();
});
process.on('disconnect', stop);
