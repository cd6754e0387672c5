// The one place flags and environment variables are read and validated.
import { parseArgs } from 'node:util';
import { isValidLabelValue } from './rules/names.js';
import { defaultRuleSettings, type RuleSettings } from './rules/types.js';
import { WEIGHT_POLICIES } from './rules/weights.js';

export class ConfigError extends Error {}

/** The HTTPS port when none is configured (SPEC §6). */
export const defaultPort = 8443;

export interface ServeConfig {
  port: number;
  bindAddress: string;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  /** Where standalone mode writes dev certificates when none are given. */
  certDir: string;
  seedDir?: string;
  standalone: boolean;
  kubeconfigPath?: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  settings: RuleSettings;
  onSubsetError: 'deny' | 'warn';
  subsetWriteTimeoutMs: number;
  maxBodyBytes: number;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
  watchSilenceTimeoutMs: number;
  certReloadIntervalMs: number;
  /** What the guard does with a change that would leave a route to nothing (SPEC §9). */
  guardMode: 'deny' | 'warn' | 'off';
  /** SPEC §10 readiness reads: distinct subsets per review, the check's budget from the review's start, answer reuse. */
  maxReadyReads: number;
  readyTimeoutMs: number;
  readyCacheTtlMs: number;
  /** Where DestinationRules live; `auto` = the cluster when configured, else memory (never memory inside a pod). */
  store: 'memory' | 'kube' | 'auto';
  /** Reviews being read or answered at once; past it, 429 with Retry-After. */
  maxInFlight: number;
  /** Open connections at once (Node's server.maxConnections). */
  maxConnections: number;
  /** Namespaces one review may re-read directly before a denial; the rest answer from the cache. */
  maxDirectReads: number;
  /** A request body that makes no progress this long is cut off. */
  bodyIdleTimeoutMs: number;
}

interface FlagSpec {
  env: string;
  type: 'string' | 'boolean';
  help: string;
}

/** Every `serve` flag, its environment variable and help line: the README table is checked against the same list (test/readme.test.ts). */
export const serveFlags: Record<string, FlagSpec> = {
  port: { env: 'CANARY_WEBHOOK_PORT', type: 'string', help: `HTTPS port (default ${defaultPort})` },
  'bind-address': { env: 'CANARY_WEBHOOK_BIND_ADDRESS', type: 'string', help: 'address to listen on (default 0.0.0.0)' },
  'tls-cert': { env: 'CANARY_WEBHOOK_TLS_CERT', type: 'string', help: 'PEM certificate file, reloaded when it changes' },
  'tls-key': { env: 'CANARY_WEBHOOK_TLS_KEY', type: 'string', help: 'PEM private key file, reloaded when it changes' },
  'cert-dir': { env: 'CANARY_WEBHOOK_CERT_DIR', type: 'string', help: 'standalone: where dev certificates are generated (default certs)' },
  'seed-dir': { env: 'CANARY_WEBHOOK_SEED_DIR', type: 'string', help: 'standalone: folder of manifests whose DestinationRules and Namespaces seed the store' },
  standalone: { env: 'CANARY_WEBHOOK_STANDALONE', type: 'boolean', help: 'alias of --store=memory' },
  store: { env: 'CANARY_WEBHOOK_STORE', type: 'string', help: 'memory|kube|auto: auto uses the cluster when configured; in a pod a missing token is fatal (default auto)' },
  kubeconfig: { env: 'KUBECONFIG', type: 'string', help: 'kubeconfig file (default: in-cluster config, then ~/.kube/config)' },
  'log-level': { env: 'CANARY_WEBHOOK_LOG_LEVEL', type: 'string', help: 'trace|debug|info|warn|error|fatal|silent (default info)' },
  'cluster-domain': { env: 'CANARY_WEBHOOK_CLUSTER_DOMAIN', type: 'string', help: 'cluster DNS domain (default cluster.local)' },
  'root-namespace': { env: 'CANARY_WEBHOOK_ROOT_NAMESPACE', type: 'string', help: 'Istio root namespace (default istio-system)' },
  'opt-in-label': { env: 'CANARY_WEBHOOK_OPT_IN_LABEL', type: 'string', help: 'Deployment label that opts in (default canary-webhook/enabled)' },
  'version-annotation': { env: 'CANARY_WEBHOOK_VERSION_ANNOTATION', type: 'string', help: 'version annotation (default canary-webhook/version)' },
  'service-annotation': { env: 'CANARY_WEBHOOK_SERVICE_ANNOTATION', type: 'string', help: 'service annotation (default canary-webhook/service)' },
  'inject-mode': { env: 'CANARY_WEBHOOK_INJECT_MODE', type: 'string', help: 'sidecar injection via label|annotation|both (default both)' },
  'weight-policy': { env: 'CANARY_WEBHOOK_WEIGHT_POLICY', type: 'string', help: 'route weights: sum-100 (must sum to 100) or proportional (Istio >= 1.15; default sum-100)' },
  'istio-revision': { env: 'CANARY_WEBHOOK_ISTIO_REVISION', type: 'string', help: 'label pod templates istio.io/rev=REV instead of sidecar.istio.io/inject (revision-only Istio)' },
  'on-subset-error': { env: 'CANARY_WEBHOOK_ON_SUBSET_ERROR', type: 'string', help: 'deny|warn when the subset cannot be written in time (default deny)' },
  'subset-write-timeout-ms': { env: 'CANARY_WEBHOOK_SUBSET_WRITE_TIMEOUT_MS', type: 'string', help: 'deadline for the DestinationRule write, retries included (default 3000)' },
  'max-body-bytes': { env: 'CANARY_WEBHOOK_MAX_BODY_BYTES', type: 'string', help: 'largest AdmissionReview accepted; larger gets 413 (default 3145728, the API server\'s own limit)' },
  'keep-alive-timeout-ms': { env: 'CANARY_WEBHOOK_KEEP_ALIVE_TIMEOUT_MS', type: 'string', help: 'idle keep-alive timeout, must outlast the API server\'s 90 s (default 120000)' },
  'headers-timeout-ms': { env: 'CANARY_WEBHOOK_HEADERS_TIMEOUT_MS', type: 'string', help: 'cut off clients that dribble headers (default 10000)' },
  'request-timeout-ms': { env: 'CANARY_WEBHOOK_REQUEST_TIMEOUT_MS', type: 'string', help: 'cut off clients that dribble a body (default 30000)' },
  'shutdown-grace-ms': { env: 'CANARY_WEBHOOK_SHUTDOWN_GRACE_MS', type: 'string', help: 'on SIGTERM, how long in-flight reviews may take (default 20000)' },
  'watch-silence-timeout-ms': { env: 'CANARY_WEBHOOK_WATCH_SILENCE_TIMEOUT_MS', type: 'string', help: 'restart a DestinationRule watch silent this long (default 300000)' },
  guard: { env: 'CANARY_WEBHOOK_GUARD', type: 'string', help: 'deny|warn|off: DestinationRule edits and Deployment deletes that break a route (default deny)' },
  'cert-reload-interval-ms': { env: 'CANARY_WEBHOOK_CERT_RELOAD_INTERVAL_MS', type: 'string', help: 'how often certificate files are re-checked besides fs events (default 10000)' },
  'max-in-flight': { env: 'CANARY_WEBHOOK_MAX_IN_FLIGHT', type: 'string', help: 'reviews handled at once; more get 429 + Retry-After (default 32)' },
  'max-connections': { env: 'CANARY_WEBHOOK_MAX_CONNECTIONS', type: 'string', help: 'open connections at once; more are refused (default 2048)' },
  'max-direct-reads': { env: 'CANARY_WEBHOOK_MAX_DIRECT_READS', type: 'string', help: 'namespaces one review re-reads before a denial; the rest from the cache (default 16)' },
  'body-idle-timeout-ms': { env: 'CANARY_WEBHOOK_BODY_IDLE_TIMEOUT_MS', type: 'string', help: 'cut off a request body that stalls this long (default 10000)' },
  'subset-placement': { env: 'CANARY_WEBHOOK_SUBSET_PLACEMENT', type: 'string', help: 'companion: subsets beside a user-owned DestinationRule go in <service>-canary-webhook; append: into the user\'s rule (default companion)' },
  'max-subsets': { env: 'CANARY_WEBHOOK_MAX_SUBSETS', type: 'string', help: 'subsets the webhook keeps in one DestinationRule; past it the Deployment is denied (default 64)' },
  'ready-policy': { env: 'CANARY_WEBHOOK_READY_POLICY', type: 'string', help: 'warn|deny|off when a routed subset selects no ready pod (default warn)' },
  'max-ready-reads': { env: 'CANARY_WEBHOOK_MAX_READY_READS', type: 'string', help: 'subsets whose pods are looked up per review (default 10)' },
  'ready-timeout-ms': { env: 'CANARY_WEBHOOK_READY_TIMEOUT_MS', type: 'string', help: 'readiness check budget from the review\'s start; past it the check is skipped (default 1500)' },
  'ready-cache-ttl-ms': { env: 'CANARY_WEBHOOK_READY_CACHE_TTL_MS', type: 'string', help: 'how long a pod count or Service selector is reused (default 2000)' },
};

type FlagValues = Readonly<Record<string, string | boolean | string[] | boolean[] | undefined>>;

/** Flag first, then its environment variable; every error names the one that was set. */
function flagReader(values: FlagValues, env: NodeJS.ProcessEnv) {
  const read = (name: string): string | undefined => {
    const fromFlag = values[name];
    if (typeof fromFlag === 'string') return fromFlag;
    const fromEnv = env[serveFlags[name]!.env];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  // An error names what the user actually set: `CANARY_WEBHOOK_PORT=abc` must not blame a `--port` nobody typed.
  const origin = (name: string): string => (typeof values[name] === 'string' ? `--${name}` : serveFlags[name]!.env);
  const readBoolean = (name: string): boolean => {
    if (values[name] === true) return true;
    const fromEnv = env[serveFlags[name]!.env];
    if (fromEnv === undefined || fromEnv === '') return false;
    if (/^(1|true|yes)$/i.test(fromEnv)) return true;
    if (/^(0|false|no)$/i.test(fromEnv)) return false;
    throw new ConfigError(`${serveFlags[name]!.env} must be true or false, got "${fromEnv}"`);
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const parsed = Number(raw);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new ConfigError(`${origin(name)} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return parsed;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new ConfigError(`${origin(name)} must be one of ${allowed.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  };
  return { read, origin, readBoolean, integer, oneOf };
}

/**
 * The `serve` flags that `check` and `inject` take too (SPEC §2, §7), so a CI
 * run plans subsets as the webhook will: same names, environment variables,
 * defaults and validation. `values` is what the command's parseArgs read.
 */
export const placementFlags = {
  'subset-placement': { type: 'string' },
  'max-subsets': { type: 'string' },
} as const;

export function placementSettings(
  values: Readonly<{ 'subset-placement'?: string | boolean; 'max-subsets'?: string | boolean }>,
  env: NodeJS.ProcessEnv,
): Pick<RuleSettings, 'subsetPlacement' | 'maxSubsets'> {
  const { integer, oneOf } = flagReader({ 'subset-placement': values['subset-placement'], 'max-subsets': values['max-subsets'] }, env);
  return {
    subsetPlacement: oneOf('subset-placement', ['companion', 'append'], defaultRuleSettings.subsetPlacement),
    maxSubsets: integer('max-subsets', defaultRuleSettings.maxSubsets, 1, 10_000),
  };
}

const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServeConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(Object.entries(serveFlags).map(([name, spec]) => [name, { type: spec.type }]));
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const { read, origin, readBoolean, integer, oneOf } = flagReader(values, env);

  const tlsCertPath = read('tls-cert');
  const tlsKeyPath = read('tls-key');
  if ((tlsCertPath === undefined) !== (tlsKeyPath === undefined)) {
    const [given, missing] = tlsCertPath === undefined ? ['tls-key', 'tls-cert'] : ['tls-cert', 'tls-key'];
    throw new ConfigError(`--tls-cert and --tls-key go together: ${origin(given)} is set but not --${missing} (${serveFlags[missing]!.env}); give both or neither`);
  }
  const keepAliveTimeoutMs = integer('keep-alive-timeout-ms', 120_000, 1, 3_600_000);
  if (keepAliveTimeoutMs <= 90_000) {
    throw new ConfigError(`${origin('keep-alive-timeout-ms')} must outlast the API server's 90 s idle connections (use more than 90000)`);
  }
  const subsetWriteTimeoutMs = integer('subset-write-timeout-ms', 3_000, 100, 30_000);
  let store = oneOf('store', ['memory', 'kube', 'auto'], 'auto');
  if (readBoolean('standalone')) {
    if (store === 'kube') throw new ConfigError('--standalone is --store=memory: it cannot go with --store=kube');
    store = 'memory';
  }
  const standalone = store === 'memory';
  return {
    port: integer('port', defaultPort, 0, 65_535),
    bindAddress: read('bind-address') ?? '0.0.0.0',
    tlsCertPath,
    tlsKeyPath,
    certDir: read('cert-dir') ?? 'certs',
    seedDir: read('seed-dir'),
    standalone,
    kubeconfigPath: read('kubeconfig'),
    logLevel: oneOf('log-level', logLevels, 'info'),
    settings: {
      ...defaultRuleSettings,
      clusterDomain: read('cluster-domain') ?? defaultRuleSettings.clusterDomain,
      rootNamespace: read('root-namespace') ?? defaultRuleSettings.rootNamespace,
      optInLabel: read('opt-in-label') ?? defaultRuleSettings.optInLabel,
      versionAnnotation: read('version-annotation') ?? defaultRuleSettings.versionAnnotation,
      serviceAnnotation: read('service-annotation') ?? defaultRuleSettings.serviceAnnotation,
      injectMode: oneOf('inject-mode', ['label', 'annotation', 'both'], defaultRuleSettings.injectMode),
      ...placementSettings(values, env),
      weightPolicy: oneOf('weight-policy', WEIGHT_POLICIES, defaultRuleSettings.weightPolicy),
      istioRevision: istioRevision(read('istio-revision')),
      readyPolicy: oneOf('ready-policy', ['warn', 'deny', 'off'], defaultRuleSettings.readyPolicy),
    },
    onSubsetError: oneOf('on-subset-error', ['deny', 'warn'], 'deny'),
    subsetWriteTimeoutMs,
    maxBodyBytes: integer('max-body-bytes', 3 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    keepAliveTimeoutMs,
    headersTimeoutMs: integer('headers-timeout-ms', 10_000, 100, 600_000),
    requestTimeoutMs: integer('request-timeout-ms', 30_000, 100, 600_000),
    shutdownGraceMs: integer('shutdown-grace-ms', 20_000, 0, 600_000),
    watchSilenceTimeoutMs: integer('watch-silence-timeout-ms', 300_000, 1_000, 3_600_000),
    certReloadIntervalMs: integer('cert-reload-interval-ms', 10_000, 100, 3_600_000),
    guardMode: oneOf('guard', ['deny', 'warn', 'off'], 'deny'),
    maxReadyReads: integer('max-ready-reads', 10, 0, 100),
    // Under the shipped 5 s webhook timeout, with room for the DestinationRule re-read.
    readyTimeoutMs: integer('ready-timeout-ms', 1_500, 50, 10_000),
    readyCacheTtlMs: integer('ready-cache-ttl-ms', 2_000, 0, 60_000),
    store,
    maxInFlight: integer('max-in-flight', 32, 1, 100_000),
    maxConnections: integer('max-connections', 2_048, 1, 1_000_000),
    maxDirectReads: integer('max-direct-reads', 16, 1, 1_000),
    bodyIdleTimeoutMs: integer('body-idle-timeout-ms', 10_000, 100, 600_000),
  };
}

/** An Istio revision is a label value (`istio.io/rev: 1-24-0`); checked once here, not per review. */
export function istioRevision(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!isValidLabelValue(raw)) {
    throw new ConfigError(`--istio-revision must be a label value (alphanumerics, -_. inside, at most 63), got ${JSON.stringify(raw.slice(0, 80))}`);
  }
  return raw;
}

export function serveUsage(): string {
  const lines = Object.entries(serveFlags).map(([name, spec]) => `  --${name.padEnd(26)} ${spec.help} [$${spec.env}]`);
  return `Usage: canary-webhook serve [flags]\n\nStarts the admission webhook over HTTPS.\n\nFlags:\n${lines.join('\n')}\n\nExample:\n  canary-webhook serve --standalone --seed-dir examples/seed\n`;
}
