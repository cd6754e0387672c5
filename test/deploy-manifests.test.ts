// The deploy/ manifests are data the project owns: these tests hold them to
// SPEC §8 and to the server they deploy (routes, port, flags), rendered the
// way `kubectl apply -k` renders them.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseServeConfig } from '../src/config.js';
import { POLICY_NAME, WEIGHT_POLICY_LABEL } from '../src/policy/manifest.js';
import { defaultPort, routes } from '../src/server/routes.js';
import { serviceDnsNames, writeLocalOverlay, writeServingCertificates } from '../src/tls/certs-command.js';
import { byIdentity, normalizeForComparison, renderKustomization, renderWithKubectl, type Manifest } from './support/kustomize.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const baseDir = path.join(root, 'deploy', 'base');
const certManagerDir = path.join(root, 'deploy', 'overlays', 'cert-manager');
const namespace = 'canary-webhook';

// Shapes of the fields under test; the renderer returns plain JSON.
interface Probe {
  httpGet?: { path: string; port: number | string; scheme?: string };
  exec?: unknown;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>;
}
interface PodSpec {
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; seccompProfile?: { type: string } };
  topologySpreadConstraints?: Array<{ topologyKey: string; maxSkew: number; labelSelector?: { matchLabels?: Record<string, string> } }>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; secret?: { secretName: string }; emptyDir?: unknown; hostPath?: unknown }>;
}
interface Deployment {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
interface Service {
  spec: { selector: Record<string, string>; ports: Array<{ name?: string; port: number; targetPort: number | string }> };
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface Webhook {
  name: string;
  admissionReviewVersions: string[];
  clientConfig: { service?: { name: string; namespace: string; path: string; port?: number }; url?: string; caBundle?: string };
  rules: Array<{ apiGroups: string[]; apiVersions: string[]; resources: string[]; operations: string[]; scope?: string }>;
  matchPolicy?: string;
  objectSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchExpressions?: Array<{ key: string; operator: string; values: string[] }> };
  sideEffects: string;
  reinvocationPolicy?: string;
  failurePolicy?: string;
  timeoutSeconds?: number;
}
interface WebhookConfiguration {
  metadata: { annotations?: Record<string, string> };
  webhooks: Webhook[];
}
interface Certificate {
  spec: { secretName: string; dnsNames?: string[]; isCA?: boolean; issuerRef: { kind: string; name: string }; usages?: string[] };
}

function find<T>(manifests: Manifest[], kind: string, name?: string): T & Manifest {
  const found = manifests.filter((manifest) => manifest.kind === kind && (name === undefined || manifest.metadata.name === name));
  assert.equal(found.length, 1, `expected exactly one ${kind}${name === undefined ? '' : `/${name}`}, found ${found.length}`);
  return found[0] as unknown as T & Manifest;
}

function onlyWebhook(configuration: WebhookConfiguration): Webhook {
  assert.equal(configuration.webhooks.length, 1);
  return configuration.webhooks[0]!;
}

/** A probe or Service port given by name resolves through the container's ports. */
function containerPortNumber(container: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((candidate) => candidate.name === port);
  assert.ok(named, `container ${container.name} has no port named ${port}`);
  return named.containerPort;
}

function webhookContainer(deployment: Deployment): Container {
  assert.equal(deployment.spec.template.spec.containers.length, 1, 'one container: the webhook');
  return deployment.spec.template.spec.containers[0]!;
}

function flagValue(args: readonly string[], flag: string): string {
  const index = args.indexOf(flag);
  assert.ok(index >= 0 && index + 1 < args.length, `args carry ${flag}`);
  return args[index + 1]!;
}

const expectedRbac = [
  ['networking.istio.io', 'destinationrules', ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete']],
  ['networking.istio.io', 'virtualservices', ['get', 'list', 'watch']],
  ['', 'namespaces', ['get', 'list', 'watch']],
  ['apps', 'deployments', ['list']],
  // Readiness (SPEC §10): label-selected pod lists and the Service's selector; no watch, no writes.
  ['', 'pods', ['list']],
  ['', 'services', ['get']],
] as const;

function permissionSet(rules: PolicyRule[]): string[] {
  const triples = rules.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) => (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource}:${verb}`))),
  );
  return [...new Set(triples)].sort();
}

const clusterScoped = [
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
];

interface PolicyBinding {
  spec: {
    policyName: string;
    validationActions: string[];
    matchResources: { namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> } };
  };
}

let base: Manifest[];
let certManager: Manifest[];

before(async () => {
  base = await renderKustomization(baseDir);
  certManager = await renderKustomization(certManagerDir);
});

describe('deploy/base', () => {
  test('holds exactly the objects SPEC §8 lists, and no key material', () => {
    const kinds = base.map((manifest) => manifest.kind).sort();
    assert.deepEqual(kinds, [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'MutatingWebhookConfiguration',
      'Namespace',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
    ]);
    assert.equal(find<object>(base, 'Namespace').metadata.name, namespace);
    for (const manifest of base) {
      if (clusterScoped.includes(manifest.kind)) continue;
      assert.equal(manifest.metadata.namespace, namespace, `${manifest.kind} lives in ${namespace}`);
    }
  });

  test('the Deployment runs two non-root, locked-down replicas', () => {
    const deployment = find<Deployment>(base, 'Deployment', 'canary-webhook');
    const pod = deployment.spec.template.spec;
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(pod.hostNetwork ?? false, false);
    assert.equal(pod.hostPID ?? false, false);
    assert.equal(pod.hostIPC ?? false, false);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.ok(Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext!.runAsUser! > 0, 'a fixed non-root uid');
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(pod.initContainers, undefined);
    for (const container of pod.containers) {
      const security = container.securityContext;
      assert.equal(security?.allowPrivilegeEscalation, false, `${container.name}: allowPrivilegeEscalation`);
      assert.equal(security?.readOnlyRootFilesystem, true, `${container.name}: readOnlyRootFilesystem`);
      assert.equal(security?.privileged ?? false, false);
      assert.deepEqual(security?.capabilities?.drop, ['ALL']);
      assert.equal(security?.capabilities?.add, undefined);
      for (const resource of ['cpu', 'memory']) {
        assert.ok(container.resources?.requests?.[resource], `${container.name}: ${resource} request`);
        assert.ok(container.resources?.limits?.[resource], `${container.name}: ${resource} limit`);
      }
    }
    for (const volume of pod.volumes ?? []) {
      assert.equal(volume.hostPath, undefined, 'no hostPath volumes');
    }
  });

  test('replicas spread across nodes and zones, and a PodDisruptionBudget keeps one', () => {
    const deployment = find<Deployment>(base, 'Deployment', 'canary-webhook');
    const podLabels = deployment.spec.template.metadata.labels;
    const constraints = deployment.spec.template.spec.topologySpreadConstraints ?? [];
    assert.deepEqual(constraints.map((constraint) => constraint.topologyKey).sort(), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const constraint of constraints) {
      assert.equal(constraint.maxSkew, 1);
      for (const [key, value] of Object.entries(constraint.labelSelector?.matchLabels ?? {})) assert.equal(podLabels[key], value);
    }
    const pdb = find<{ spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>(base, 'PodDisruptionBudget');
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(podLabels[key], value);
    // The API server is outside the mesh; a sidecar would get between it and the webhook.
    assert.equal(podLabels['sidecar.istio.io/inject'], 'false');
  });

  test('the container serves HTTPS on the server\'s default port, and the probes hit its routes', () => {
    const container = webhookContainer(find<Deployment>(base, 'Deployment', 'canary-webhook'));
    assert.deepEqual(container.ports?.map((port) => port.containerPort), [defaultPort]);
    const readiness = container.readinessProbe?.httpGet;
    const liveness = container.livenessProbe?.httpGet;
    assert.ok(readiness && liveness, 'HTTP readiness and liveness probes');
    assert.equal(readiness.path, routes.readyz);
    assert.equal(liveness.path, routes.healthz);
    for (const probe of [readiness, liveness]) {
      assert.equal(probe.scheme, 'HTTPS');
      assert.equal(containerPortNumber(container, probe.port), defaultPort);
    }
  });

  test('the args are a valid `serve` command line whose TLS files are in the mounted Secret', () => {
    const deployment = find<Deployment>(base, 'Deployment', 'canary-webhook');
    const container = webhookContainer(deployment);
    const args = container.args ?? [];
    assert.equal(container.command, undefined, 'the image ENTRYPOINT runs the CLI');
    assert.equal(args[0], 'serve');
    // The server's own flag parser, with no environment: a renamed flag fails here, not in a cluster.
    const config = parseServeConfig(args.slice(1), {});
    assert.equal(config.port, defaultPort);
    assert.equal(config.standalone, false);

    const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === '/etc/canary-webhook/tls');
    assert.ok(mount, 'TLS Secret mounted at /etc/canary-webhook/tls');
    assert.equal(mount.subPath, undefined, 'a directory mount, so Secret rotation reaches the pod');
    assert.equal(mount.readOnly, true);
    assert.equal(config.tlsCertPath, path.posix.join(mount.mountPath, 'tls.crt'));
    assert.equal(config.tlsKeyPath, path.posix.join(mount.mountPath, 'tls.key'));
    assert.equal(flagValue(args, '--tls-cert'), config.tlsCertPath);
    const volume = deployment.spec.template.spec.volumes?.find((candidate) => candidate.name === mount.name);
    assert.equal(volume?.secret?.secretName, 'canary-webhook-tls');

    // Everything else the pod mounts must be writable scratch space, never more of the node.
    for (const other of deployment.spec.template.spec.volumes ?? []) {
      if (other.name !== mount.name) assert.ok(other.emptyDir !== undefined, `volume ${other.name} is an emptyDir`);
    }
  });

  test('the grace period covers the preStop delay and the server\'s drain', () => {
    const deployment = find<Deployment>(base, 'Deployment', 'canary-webhook');
    const container = webhookContainer(deployment);
    const config = parseServeConfig((container.args ?? []).slice(1), {});
    const preStopSeconds = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    assert.equal(container.lifecycle?.preStop?.exec, undefined, 'no shell in the image to exec');
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds;
    assert.ok(grace !== undefined && grace >= preStopSeconds + config.shutdownGraceMs / 1000 + 1, `terminationGracePeriodSeconds ${grace} too short`);
  });

  test('the Service maps 443 to the container port and selects the pods', () => {
    const service = find<Service>(base, 'Service', 'canary-webhook');
    const deployment = find<Deployment>(base, 'Deployment', 'canary-webhook');
    assert.equal(service.spec.ports.length, 1);
    const port = service.spec.ports[0]!;
    assert.equal(port.port, 443);
    assert.equal(containerPortNumber(webhookContainer(deployment), port.targetPort), defaultPort);
    for (const [key, value] of Object.entries(service.spec.selector)) {
      assert.equal(deployment.spec.template.metadata.labels[key], value);
    }
  });

  test('RBAC grants exactly the DestinationRule, VirtualService, pod list and Service get verbs, to the Deployment\'s ServiceAccount', () => {
    const role = find<{ rules: PolicyRule[] }>(base, 'ClusterRole', 'canary-webhook');
    assert.equal(base.filter((manifest) => manifest.kind === 'Role' || manifest.kind === 'ClusterRole').length, 1);
    const expected = permissionSet(expectedRbac.map(([group, resource, verbs]) => ({ apiGroups: [group], resources: [resource], verbs: [...verbs] })));
    assert.deepEqual(permissionSet(role.rules), expected);
    for (const rule of role.rules) {
      assert.equal(rule.resourceNames, undefined);
      assert.equal(rule.nonResourceURLs, undefined);
      for (const value of [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs]) {
        assert.ok(!value.includes('*'), `no wildcard (${value})`);
      }
    }
    assert.ok(!JSON.stringify(role.rules).includes('secrets'));

    const binding = find<{ roleRef: { kind: string; name: string }; subjects: Array<{ kind: string; name: string; namespace?: string }> }>(
      base,
      'ClusterRoleBinding',
      'canary-webhook',
    );
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'canary-webhook' });
    const serviceAccount = find<object>(base, 'ServiceAccount');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: serviceAccount.metadata.name, namespace }]);
    assert.equal(find<Deployment>(base, 'Deployment').spec.template.spec.serviceAccountName, serviceAccount.metadata.name);
  });

  function assertCallsTheService(webhook: Webhook, path: string) {
    const service = find<Service>(base, 'Service', 'canary-webhook');
    assert.equal(webhook.clientConfig.url, undefined);
    assert.deepEqual(webhook.clientConfig.service, { name: service.metadata.name, namespace: service.metadata.namespace, path, port: service.spec.ports[0]!.port });
    assert.deepEqual(webhook.namespaceSelector, {
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', namespace] }],
    });
    assert.ok(webhook.admissionReviewVersions.includes('v1'));
    assert.deepEqual(webhook.admissionReviewVersions, ['v1'], 'every supported Kubernetes speaks admission.k8s.io/v1');
    assert.equal(webhook.matchPolicy, 'Equivalent');
    assert.ok(webhook.timeoutSeconds !== undefined && webhook.timeoutSeconds >= 2 && webhook.timeoutSeconds <= 10, 'a short timeout');
    assert.equal(webhook.clientConfig.caBundle, undefined, 'the base carries no CA; overlays add it');
    assert.equal(webhook.name.split('.').length >= 3, true, 'a fully qualified webhook name');
  }

  test('the mutating webhook sends opted-in apps/v1 Deployments to /mutate and fails closed', () => {
    const webhook = onlyWebhook(find<WebhookConfiguration>(base, 'MutatingWebhookConfiguration', 'canary-webhook'));
    assertCallsTheService(webhook, routes.mutate);
    assert.deepEqual(webhook.rules, [
      { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
    ]);
    assert.deepEqual(webhook.objectSelector, { matchLabels: { 'canary-webhook/enabled': 'true' } });
    assert.equal(webhook.sideEffects, 'NoneOnDryRun');
    assert.equal(webhook.reinvocationPolicy, 'IfNeeded');
    assert.equal(webhook.failurePolicy, 'Fail');
  });

  test('the validating webhook sends VirtualServices of every served version to /validate', () => {
    const webhook = onlyWebhook(find<WebhookConfiguration>(base, 'ValidatingWebhookConfiguration', 'canary-webhook'));
    assertCallsTheService(webhook, routes.validate);
    assert.equal(webhook.rules.length, 1);
    const rule = webhook.rules[0]!;
    assert.deepEqual(rule.apiGroups, ['networking.istio.io']);
    assert.deepEqual([...rule.apiVersions].sort(), ['v1', 'v1alpha3', 'v1beta1']);
    assert.deepEqual(rule.resources, ['virtualservices']);
    assert.deepEqual([...rule.operations].sort(), ['CREATE', 'UPDATE']);
    assert.equal(webhook.sideEffects, 'None');
    assert.equal(webhook.objectSelector, undefined, 'every VirtualService is checked');
    // Ignore: an outage must not block the VirtualService edit that rolls a canary back (README, "What the manifests choose").
    assert.equal(webhook.failurePolicy, 'Ignore');
  });

  test('the guard sends DestinationRule UPDATE/DELETE and opted-in Deployment UPDATE/DELETE to /guard, failing open', () => {
    const configuration = find<WebhookConfiguration>(base, 'ValidatingWebhookConfiguration', 'canary-webhook-guard');
    assert.equal(configuration.webhooks.length, 2);
    const [rules, deployments] = configuration.webhooks as [Webhook, Webhook];
    for (const webhook of [rules, deployments]) {
      assertCallsTheService(webhook, routes.guard);
      assert.equal(webhook.sideEffects, 'None');
      assert.equal(webhook.failurePolicy, 'Ignore', 'the guard never blocks a repair during an outage (SPEC §9)');
    }
    assert.equal(rules.rules.length, 1);
    assert.deepEqual(rules.rules[0]!.apiGroups, ['networking.istio.io']);
    assert.deepEqual([...rules.rules[0]!.apiVersions].sort(), ['v1', 'v1alpha3', 'v1beta1']);
    assert.deepEqual(rules.rules[0]!.resources, ['destinationrules']);
    assert.deepEqual([...rules.rules[0]!.operations].sort(), ['DELETE', 'UPDATE']);
    assert.equal(rules.objectSelector, undefined, 'every DestinationRule, the user\'s and the companion');
    assert.deepEqual(deployments.rules, [
      { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'], operations: ['UPDATE', 'DELETE'], scope: 'Namespaced' },
    ]);
    assert.deepEqual(deployments.objectSelector, { matchLabels: { 'canary-webhook/enabled': 'true' } });
  });
});

describe('deploy/base: the weight policy', () => {
  test('is `canary-webhook policy` output for the weight policy serve runs with', () => {
    const container = webhookContainer(find<Deployment>(base, 'Deployment', 'canary-webhook'));
    const config = parseServeConfig((container.args ?? []).slice(1), {});
    const policy = find<{ spec: { validations: unknown[]; failurePolicy: string } }>(base, 'ValidatingAdmissionPolicy', POLICY_NAME);
    assert.equal((policy.metadata.labels as Record<string, string> | undefined)?.[WEIGHT_POLICY_LABEL], config.settings.weightPolicy, 'the policy and the webhook enforce the same rule');
    assert.equal(policy.spec.validations.length, 3, 'http, tcp and tls');
    assert.equal(policy.spec.failurePolicy, 'Fail');
  });

  test('binds Deny and Warn by the enforcement label, with the webhooks\' namespace exclusions', () => {
    const webhook = onlyWebhook(find<WebhookConfiguration>(base, 'ValidatingWebhookConfiguration', 'canary-webhook'));
    const bindings = base.filter((manifest) => manifest.kind === 'ValidatingAdmissionPolicyBinding') as unknown as Array<PolicyBinding & Manifest>;
    assert.deepEqual(bindings.map((binding) => binding.spec.validationActions).sort(), [['Deny'], ['Warn']]);
    for (const binding of bindings) {
      assert.equal(binding.spec.policyName, POLICY_NAME);
      const [exclusion, enforcement] = binding.spec.matchResources.namespaceSelector.matchExpressions;
      assert.deepEqual(exclusion, webhook.namespaceSelector?.matchExpressions?.[0]);
      const warn = binding.spec.validationActions[0] === 'Warn';
      assert.deepEqual(enforcement, { key: 'canary-webhook/enforcement', operator: warn ? 'In' : 'NotIn', values: ['warn'] });
    }
  });
});

describe('deploy/overlays/cert-manager', () => {
  test('adds the certificates and changes nothing in the base but the CA injection annotation', () => {
    const added = certManager.filter((manifest) => !base.some((candidate) => byIdentity(candidate, manifest) === 0));
    assert.deepEqual(added.map((manifest) => manifest.kind).sort(), ['Certificate', 'Certificate', 'Issuer', 'Issuer']);
    for (const manifest of added) assert.equal(manifest.metadata.namespace, namespace);
    for (const original of base) {
      const rendered = certManager.find((candidate) => byIdentity(candidate, original) === 0);
      assert.ok(rendered, `${original.kind}/${original.metadata.name} kept`);
      const { annotations: _annotations, ...renderedMetadata } = rendered.metadata;
      assert.deepEqual({ ...rendered, metadata: renderedMetadata }, original);
    }
  });

  test('the serving Certificate names both Service DNS names and writes the mounted Secret', () => {
    const service = find<Service>(base, 'Service', 'canary-webhook');
    const serving = find<Certificate>(certManager, 'Certificate', 'canary-webhook-tls');
    assert.equal(serving.spec.secretName, 'canary-webhook-tls');
    assert.deepEqual(serving.spec.dnsNames, serviceDnsNames(service.metadata.name, service.metadata.namespace!, 'cluster.local'));
    assert.ok(serving.spec.usages?.includes('server auth'));
    assert.notEqual(serving.spec.isCA, true);
    // Signed by a CA issuer backed by a CA Certificate, so renewing the
    // serving certificate does not change the injected caBundle.
    const issuer = find<{ spec: { ca?: { secretName: string } } }>(certManager, serving.spec.issuerRef.kind, serving.spec.issuerRef.name);
    assert.ok(issuer.spec.ca, 'the serving certificate comes from a CA issuer');
    const caCertificate = certManager.find(
      (manifest) => manifest.kind === 'Certificate' && (manifest as unknown as Certificate).spec.secretName === issuer.spec.ca!.secretName,
    ) as unknown as Certificate | undefined;
    assert.equal(caCertificate?.spec.isCA, true);
  });

  test('every webhook configuration gets its caBundle injected from that Certificate', () => {
    for (const [kind, name] of [['MutatingWebhookConfiguration', 'canary-webhook'], ['ValidatingWebhookConfiguration', 'canary-webhook'], ['ValidatingWebhookConfiguration', 'canary-webhook-guard']] as const) {
      const configuration = find<WebhookConfiguration>(certManager, kind, name);
      assert.equal(configuration.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${namespace}/canary-webhook-tls`, `${kind}/${name}`);
    }
  });
});

describe('the overlay `make deploy` generates', () => {
  let workDir: string;
  before(async () => {
    workDir = await mkdtemp(path.join(tmpdir(), 'canary-webhook-overlay-'));
  });
  after(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  async function generate(targetNamespace: string, image?: string) {
    const certsDir = path.join(workDir, targetNamespace, 'certs');
    const overlayDir = path.join(workDir, targetNamespace, 'local');
    const certs = await writeServingCertificates({
      namespace: targetNamespace,
      service: 'canary-webhook',
      outDir: certsDir,
      clusterDomain: 'cluster.local',
      validityDays: 30 * 2,
      force: false,
    });
    await writeLocalOverlay({ overlayDir, baseDir, namespace: targetNamespace, image, certs });
    return { overlayDir, certs, rendered: await renderKustomization(overlayDir) };
  }

  test('installs the TLS Secret and the CA bundle in both webhooks', async () => {
    const { rendered, certs } = await generate(namespace, 'registry.example:5000/team/canary-webhook:1.2.3');
    const caPem = await readFile(certs.caPath, 'utf8');
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const webhook = onlyWebhook(find<WebhookConfiguration>(rendered, kind, 'canary-webhook'));
      assert.equal(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8'), caPem, kind);
    }
    for (const webhook of find<WebhookConfiguration>(rendered, 'ValidatingWebhookConfiguration', 'canary-webhook-guard').webhooks) {
      assert.equal(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8'), caPem, webhook.name);
    }
    const secret = find<{ type: string; data: Record<string, string> }>(rendered, 'Secret', 'canary-webhook-tls');
    assert.equal(secret.metadata.namespace, namespace);
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.deepEqual(Object.keys(secret.data).sort(), ['ca.crt', 'tls.crt', 'tls.key'], 'the CA key never leaves certs/');
    assert.equal(Buffer.from(secret.data['tls.crt']!, 'base64').toString('utf8'), await readFile(certs.certPath, 'utf8'));
    const container = webhookContainer(find<Deployment>(rendered, 'Deployment', 'canary-webhook'));
    assert.equal(container.image, 'registry.example:5000/team/canary-webhook:1.2.3');
  });

  test('moves everything to another namespace, webhook exclusions and certificate names included', async () => {
    const { rendered, certs } = await generate('team-a');
    assert.deepEqual(certs.dnsNames, ['canary-webhook.team-a.svc', 'canary-webhook.team-a.svc.cluster.local']);
    assert.equal(find<object>(rendered, 'Namespace').metadata.name, 'team-a');
    for (const manifest of rendered) {
      if (manifest.metadata.namespace !== undefined) assert.equal(manifest.metadata.namespace, 'team-a', `${manifest.kind}/${manifest.metadata.name}`);
    }
    const webhooks = [
      ...['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].map((kind) => onlyWebhook(find<WebhookConfiguration>(rendered, kind, 'canary-webhook'))),
      ...find<WebhookConfiguration>(rendered, 'ValidatingWebhookConfiguration', 'canary-webhook-guard').webhooks,
    ];
    for (const webhook of webhooks) {
      assert.equal(webhook.clientConfig.service?.namespace, 'team-a');
      assert.deepEqual(webhook.namespaceSelector?.matchExpressions?.[0]?.values, ['kube-system', 'team-a']);
    }
    const bindings = rendered.filter((manifest) => manifest.kind === 'ValidatingAdmissionPolicyBinding') as unknown as PolicyBinding[];
    assert.equal(bindings.length, 2);
    for (const binding of bindings) assert.deepEqual(binding.spec.matchResources.namespaceSelector.matchExpressions[0]?.values, ['kube-system', 'team-a']);
    const binding = find<{ subjects: Array<{ namespace?: string }> }>(rendered, 'ClusterRoleBinding');
    assert.equal(binding.subjects[0]?.namespace, 'team-a');
  });

  test('renders the same with kubectl\'s kustomize, where kubectl is installed', async (t) => {
    const { overlayDir } = await generate('team-b', 'canary-webhook:ci');
    for (const dir of [baseDir, certManagerDir, overlayDir]) {
      const real = await renderWithKubectl(dir);
      if (real === undefined) {
        t.skip('kubectl is not installed');
        return;
      }
      const ours = await renderKustomization(dir);
      assert.deepEqual(normalizeForComparison(ours), normalizeForComparison(real), dir);
    }
  });
});
