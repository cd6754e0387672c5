// What a monitoring stack sees: /metrics of a running server (standard
// process metric names, build_info, the served certificate's expiry), and
// the Prometheus Operator overlay whose alerts and dashboard must name only
// metrics that /metrics really exposes.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseServeConfig } from '../src/config.js';
import { startWithConfig, type StartedServer } from '../src/server/start.js';
import { generateCertificates } from '../src/tls/dev-certs.js';
import { httpsRequest } from './support/https-client.js';
import { isObject, normalizeForComparison, renderKustomization, renderWithKubectl, type Manifest } from './support/kustomize.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const overlayDir = join(root, 'deploy', 'overlays', 'prometheus-operator');
const baseDir = join(root, 'deploy', 'base');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** Series names a scrape can contain, from its `# TYPE` lines (histograms expose _bucket, _sum, _count). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = match;
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

/** Metric names in a PromQL expression: identifiers before a selector or range, and every name of ours or of the standard process collectors. */
function metricNames(expr: string): string[] {
  const selectors = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)].map((match) => match[1]!);
  const known = [...expr.matchAll(/\b((?:canary_webhook|process|nodejs)_[a-z0-9_]+)\b/g)].map((match) => match[1]!);
  return [...new Set([...selectors, ...known])];
}

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('metric names in PromQL', () => {
  it('finds selectors and our names, not functions, labels or keywords', () => {
    assert.deepEqual(metricNames('sum by (le) (rate(foo_seconds_bucket{result=~"a|b"}[5m])) / up > 1'), ['foo_seconds_bucket']);
    assert.deepEqual(metricNames('min(canary_webhook_x) - time() < 14 * 24 * 3600'), ['canary_webhook_x']);
  });
});

describe('/metrics of a running server', () => {
  let dir: string;
  let started: StartedServer;
  let ca: string;
  let scrape: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'canary-webhook-metrics-'));
    const pair = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 30 });
    writeFileSync(join(dir, 'tls.crt'), pair.cert);
    writeFileSync(join(dir, 'tls.key'), pair.key);
    ca = pair.caCert;
    const config = parseServeConfig(['--standalone', '--port', '0', '--bind-address', '127.0.0.1', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--cert-dir', join(dir, 'unused')], {});
    started = await startWithConfig(config, pino({ level: 'silent' }));
    const answer = await httpsRequest(`https://127.0.0.1:${started.running.port}/metrics`, { ca });
    assert.equal(answer.status, 200);
    scrape = answer.text;
  });
  after(async () => {
    await started.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says which version runs on which Node.js', () => {
    assert.equal(sample(scrape, `canary_webhook_build_info{version="${version}",node="${process.version}"}`), 1);
  });

  it('exposes the standard process and Node.js metrics under their usual names', () => {
    const names = exposedNames(scrape);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(names.has(name), name);
    }
    assert.equal([...names].filter((name) => /^canary_webhook_(process|nodejs)_/.test(name)).length, 0, 'no prefixed copies');
  });

  it('gives the served certificate\'s expiry, and follows a rotation', async () => {
    const notAfter = (pem: string) => Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
    assert.equal(sample(scrape, 'canary_webhook_certificate_expiry_seconds'), notAfter(readFileSync(join(dir, 'tls.crt'), 'utf8')));
    const renewed = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 90 });
    writeFileSync(join(dir, 'tls.key'), renewed.key);
    writeFileSync(join(dir, 'tls.crt'), renewed.cert);
    await started.running.reloadCertificates();
    const after = (await httpsRequest(`https://127.0.0.1:${started.running.port}/metrics`, { ca: renewed.caCert })).text;
    assert.equal(sample(after, 'canary_webhook_certificate_expiry_seconds'), notAfter(renewed.cert));
  });

  describe('deploy/overlays/prometheus-operator', () => {
    let rendered: Manifest[];
    before(async () => {
      rendered = await renderKustomization(overlayDir);
    });

    it('renders the same as kubectl kustomize, where kubectl is installed', async (t) => {
      const real = await renderWithKubectl(overlayDir);
      if (real === undefined) return void t.skip('kubectl is not installed');
      assert.deepEqual(normalizeForComparison(rendered), normalizeForComparison(real));
    });

    it('scrapes the webhook Service\'s TLS port, trusting the CA in the webhook\'s Secret', async () => {
      const base = await renderKustomization(baseDir);
      const service = base.find((manifest) => manifest.kind === 'Service') as unknown as { metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: { ports: Array<{ name: string }> } };
      const deployment = JSON.stringify(base.find((manifest) => manifest.kind === 'Deployment'));
      const monitor = rendered.find((manifest) => manifest.kind === 'ServiceMonitor') as unknown as {
        spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: Array<{ port: string; scheme: string; path: string; tlsConfig: { serverName: string; ca: { secret: { name: string; key: string } } } }> };
      };
      assert.ok(monitor);
      for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(service.metadata.labels[key], value, key);
      assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [service.metadata.namespace]);
      const [endpoint] = monitor.spec.endpoints;
      assert.equal(endpoint?.port, service.spec.ports[0]?.name);
      assert.deepEqual([endpoint?.scheme, endpoint?.path], ['https', '/metrics']);
      assert.equal(endpoint?.tlsConfig.serverName, `${service.metadata.name}.${service.metadata.namespace}.svc`);
      assert.ok(deployment.includes(`"secretName":"${endpoint?.tlsConfig.ca.secret.name}"`), 'the Secret the webhook mounts');
      assert.equal(endpoint?.tlsConfig.ca.secret.key, 'ca.crt');
    });

    it('alerts on errors, p99 latency over 1 s, certificate expiry within 14 days and write failures, naming only exposed metrics', () => {
      const rule = rendered.find((manifest) => manifest.kind === 'PrometheusRule') as unknown as { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> } };
      const rules = rule.spec.groups.flatMap((group) => group.rules);
      assert.deepEqual(rules.map((r) => r.alert).sort(), ['CanaryWebhookCertificateExpiring', 'CanaryWebhookDestinationRuleWriteFailures', 'CanaryWebhookErrors', 'CanaryWebhookSlowReviews']);
      const expr = (alert: string) => rules.find((r) => r.alert === alert)?.expr ?? '';
      assert.match(expr('CanaryWebhookSlowReviews'), /histogram_quantile\(0\.99,[\s\S]*\) > 1\s*$/);
      assert.match(expr('CanaryWebhookCertificateExpiring'), /< 14 \* 24 \* 3600/);
      const exposed = exposedNames(scrape);
      for (const { alert, expr: text } of rules) {
        const names = metricNames(text);
        assert.ok(names.length > 0, alert);
        for (const name of names) assert.ok(exposed.has(name), `${alert} names ${name}, which /metrics does not expose`);
      }
    });

    it('ships a Grafana dashboard whose every query names exposed metrics', () => {
      const configMap = rendered.find((manifest) => manifest.kind === 'ConfigMap');
      assert.equal((configMap?.metadata.labels as Record<string, string> | undefined)?.grafana_dashboard, '1');
      const data = configMap?.data;
      assert.ok(isObject(data));
      const dashboard = JSON.parse(String(data['canary-webhook.json'])) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
      const titles = dashboard.panels.map((panel) => panel.title);
      for (const wanted of ['Reviews by result', 'Review latency (p50, p99)', 'Subset writes', 'DestinationRules in cache']) assert.ok(titles.includes(wanted), wanted);
      const exposed = exposedNames(scrape);
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) {
          for (const name of metricNames(target.expr)) assert.ok(exposed.has(name), `panel "${panel.title}" names ${name}, which /metrics does not expose`);
        }
      }
    });
  });
});
