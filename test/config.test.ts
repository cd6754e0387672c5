// Flags and environment are read once and validated (src/config.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseServeConfig, serveFlags, serveUsage } from '../src/config.js';

describe('serve configuration', () => {
  it('has the documented defaults', () => {
    const config = parseServeConfig([], {});
    assert.equal(config.port, 8443);
    assert.equal(config.standalone, false);
    assert.equal(config.settings.clusterDomain, 'cluster.local');
    assert.equal(config.settings.rootNamespace, 'istio-system');
    assert.equal(config.settings.injectMode, 'both');
    assert.equal(config.settings.weightPolicy, 'sum-100');
    assert.equal(config.onSubsetError, 'deny');
    assert.equal(config.maxBodyBytes, 10 * 1024 * 1024);
    assert.ok(config.keepAliveTimeoutMs > 90_000, 'outlasts the API server\'s idle connections');
    assert.ok(config.headersTimeoutMs < 90_000 && config.requestTimeoutMs < 90_000, 'dribbling clients are cut off quickly');
    assert.ok(config.subsetWriteTimeoutMs < 5_000, 'the subset deadline stays under the webhook timeout');
  });

  it('reads every flag from its environment variable, flags winning', () => {
    const config = parseServeConfig(['--port', '9443'], {
      CANARY_WEBHOOK_PORT: '7443',
      CANARY_WEBHOOK_STANDALONE: 'true',
      CANARY_WEBHOOK_ROOT_NAMESPACE: 'mesh-root',
      CANARY_WEBHOOK_INJECT_MODE: 'label',
      CANARY_WEBHOOK_WEIGHT_POLICY: 'proportional',
      KUBECONFIG: '/tmp/kubeconfig',
    });
    assert.equal(config.port, 9443);
    assert.equal(config.standalone, true);
    assert.equal(config.settings.rootNamespace, 'mesh-root');
    assert.equal(config.settings.injectMode, 'label');
    assert.equal(config.settings.weightPolicy, 'proportional');
    assert.equal(config.kubeconfigPath, '/tmp/kubeconfig');
  });

  it('rejects bad values with a message naming the flag', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--port', 'http'], {}, /--port must be an integer/],
      [['--port', '70000'], {}, /--port must be an integer from 0 to 65535/],
      [['--tls-cert', 'a.crt'], {}, /--tls-cert and --tls-key go together/],
      [['--keep-alive-timeout-ms', '5000'], {}, /outlast the API server's 90 s/],
      [['--on-subset-error', 'ignore'], {}, /deny, warn/],
      [['--log-level', 'loud'], {}, /--log-level must be one of/],
      [['--weight-policy', 'sum-50'], {}, /--weight-policy must be one of sum-100, proportional, got "sum-50"/],
      [['--no-such-flag'], {}, /Unknown option '--no-such-flag'/],
      [[], { CANARY_WEBHOOK_STANDALONE: 'maybe' }, /CANARY_WEBHOOK_STANDALONE must be true or false/],
    ];
    for (const [argv, env, message] of cases) {
      assert.throws(() => parseServeConfig(argv, env), (error: unknown) => error instanceof ConfigError && message.test(error.message), argv.join(' '));
    }
  });

  it('--istio-revision: no default, a label value from flag or environment, anything else refused', () => {
    assert.equal(parseServeConfig([], {}).settings.istioRevision, undefined);
    assert.equal(parseServeConfig(['--istio-revision', '1-24-0'], {}).settings.istioRevision, '1-24-0');
    assert.equal(parseServeConfig([], { CANARY_WEBHOOK_ISTIO_REVISION: 'canary' }).settings.istioRevision, 'canary');
    for (const bad of ['-bad', 'has space', 'x'.repeat(64), 'a/b']) {
      assert.throws(() => parseServeConfig([`--istio-revision=${bad}`], {}), (error: unknown) => error instanceof ConfigError && /--istio-revision must be a label value/.test(error.message), bad);
    }
  });

  it('documents every flag with its environment variable in the usage text', () => {
    const usage = serveUsage();
    for (const [name, spec] of Object.entries(serveFlags)) {
      assert.ok(usage.includes(`--${name}`) && usage.includes(spec.env), name);
    }
  });
});

describe('readiness flags (SPEC §10)', () => {
  it('default to warn, 10 subsets per review, a budget under the webhook timeout', () => {
    const config = parseServeConfig([], {});
    assert.equal(config.settings.readyPolicy, 'warn');
    assert.equal(config.maxReadyReads, 10);
    assert.ok(config.readyTimeoutMs < 5_000, 'the readiness budget stays under the shipped 5 s webhook timeout');
    assert.equal(config.readyCacheTtlMs, 2_000);
  });

  it('read flags and environment variables, and reject bad values naming the flag', () => {
    const config = parseServeConfig(['--ready-policy', 'deny', '--max-ready-reads', '0'], { CANARY_WEBHOOK_READY_TIMEOUT_MS: '500', CANARY_WEBHOOK_READY_CACHE_TTL_MS: '0' });
    assert.deepEqual([config.settings.readyPolicy, config.maxReadyReads, config.readyTimeoutMs, config.readyCacheTtlMs], ['deny', 0, 500, 0]);
    assert.throws(() => parseServeConfig(['--ready-policy', 'strict'], {}), /--ready-policy must be one of warn, deny, off/);
    assert.throws(() => parseServeConfig(['--max-ready-reads', '1000'], {}), /--max-ready-reads must be an integer from 0 to 100/);
    assert.throws(() => parseServeConfig(['--ready-timeout-ms', '10'], {}), /--ready-timeout-ms must be an integer/);
  });
});
