// `make certs` / `make deploy`: a self-signed CA and a serving certificate for
// the webhook Service, and (with --overlay) a generated kustomize overlay that
// installs them. The overlay is generated, not tracked, so the CA bundle and
// the key never dirty a tracked file or end up in a commit.
//
//   node dist/src/tls/certs-command.js --namespace canary-webhook --out certs
//   node dist/src/tls/certs-command.js --namespace canary-webhook --out certs \
//     --overlay deploy/overlays/local --image registry.example/canary-webhook:1.0
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { policyBindingNames } from '../policy/manifest.js';
import { generateCertificates, writeFileAtomic } from './dev-certs.js';

/** Names the base manifests use; the generated overlay patches relative to them. */
export const baseNames = Object.freeze({
  namespace: 'canary-webhook',
  service: 'canary-webhook',
  secret: 'canary-webhook-tls',
  mutatingWebhookConfiguration: 'canary-webhook',
  validatingWebhookConfiguration: 'canary-webhook',
  /** The guard's configuration holds two webhooks (DestinationRules, Deployments). */
  guardWebhookConfiguration: 'canary-webhook-guard',
  image: 'canary-webhook',
});

export interface CertsOptions {
  namespace: string;
  service: string;
  outDir: string;
  clusterDomain: string;
  validityDays: number;
  /** Regenerate even when the files on disk are still good. */
  force: boolean;
}

export interface CertsResult {
  caPath: string;
  caKeyPath: string;
  certPath: string;
  keyPath: string;
  dnsNames: string[];
  /** False when the existing files were kept. */
  generated: boolean;
}

/** The names the API server may use to reach the Service (it dials `<svc>.<ns>.svc`). */
export function serviceDnsNames(service: string, namespace: string, clusterDomain: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}

// Re-running `make deploy` should not rotate the CA every time (each rotation
// is a new caBundle and a rolling restart of trust), but it must not keep a
// certificate about to expire either.
const renewWithinMs = 30 * 24 * 60 * 60 * 1000;

export async function writeServingCertificates(options: CertsOptions): Promise<CertsResult> {
  const dnsNames = serviceDnsNames(options.service, options.namespace, options.clusterDomain);
  const result: CertsResult = {
    caPath: path.join(options.outDir, 'ca.crt'),
    caKeyPath: path.join(options.outDir, 'ca.key'),
    certPath: path.join(options.outDir, 'tls.crt'),
    keyPath: path.join(options.outDir, 'tls.key'),
    dnsNames,
    generated: false,
  };
  if (!options.force && (await existingAreUsable(result, dnsNames))) return result;

  await mkdir(options.outDir, { recursive: true, mode: 0o700 });
  // localhost too, so `npm start` after `make certs` still answers
  // `curl --cacert certs/ca.crt https://localhost:8443` (it reuses certs/).
  const generated = await generateCertificates({ dnsNames: [...dnsNames, 'localhost'], ipAddresses: ['127.0.0.1', '::1'], validityDays: options.validityDays });
  await writeFileAtomic(result.caKeyPath, generated.caKey, 0o600);
  await writeFileAtomic(result.caPath, generated.caCert, 0o644);
  await writeFileAtomic(result.keyPath, generated.key, 0o600);
  await writeFileAtomic(result.certPath, generated.cert, 0o644);
  return { ...result, generated: true };
}

async function existingAreUsable(paths: CertsResult, dnsNames: readonly string[]): Promise<boolean> {
  let caPem: string;
  let certPem: string;
  try {
    [caPem, certPem] = await Promise.all([readFile(paths.caPath, 'utf8'), readFile(paths.certPath, 'utf8')]);
    await readFile(paths.keyPath);
  } catch {
    return false;
  }
  try {
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    const coversNames = dnsNames.every((name) => cert.checkHost(name, { wildcards: false }) === name);
    const expiresLate = Date.parse(cert.validTo) - Date.now() > renewWithinMs && Date.parse(ca.validTo) - Date.now() > renewWithinMs;
    return coversNames && expiresLate && cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    // Unparseable files are replaced rather than reported: they are ours (certs/ is generated).
    return false;
  }
}

/** `registry:5000/team/canary-webhook:1.2` → kustomize `images` fields. */
export function parseImageReference(image: string): { newName: string; newTag?: string; digest?: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { newName: image.slice(0, at), digest: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  // A colon before the last slash is a registry port, not a tag.
  if (colon > image.lastIndexOf('/')) return { newName: image.slice(0, colon), newTag: image.slice(colon + 1) };
  return { newName: image };
}

export interface OverlayOptions {
  overlayDir: string;
  baseDir: string;
  namespace: string;
  image?: string;
  certs: Pick<CertsResult, 'caPath' | 'certPath' | 'keyPath'>;
}

/**
 * Writes a kustomize overlay: the base, the TLS Secret from the generated
 * files, the CA bundle in both webhook configurations, and (when it is not
 * the default) the namespace everywhere the base names it.
 */
export async function writeLocalOverlay(options: OverlayOptions): Promise<string> {
  await mkdir(options.overlayDir, { recursive: true, mode: 0o700 });
  const [caPem, certPem, keyPem] = await Promise.all([
    readFile(options.certs.caPath, 'utf8'),
    readFile(options.certs.certPath, 'utf8'),
    readFile(options.certs.keyPath, 'utf8'),
  ]);
  // kustomize only reads generator files from inside the overlay directory
  // (its default load restrictor), so the Secret's files are copied here.
  await writeFileAtomic(path.join(options.overlayDir, 'ca.crt'), caPem, 0o644);
  await writeFileAtomic(path.join(options.overlayDir, 'tls.crt'), certPem, 0o644);
  await writeFileAtomic(path.join(options.overlayDir, 'tls.key'), keyPem, 0o600);

  const caBundle = Buffer.from(caPem, 'utf8').toString('base64');
  const webhookPatch = (kind: string, name: string, webhooks = 1) => {
    const operations: Array<{ op: 'add' | 'replace'; path: string; value: unknown }> = [];
    for (let index = 0; index < webhooks; index++) {
      operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle });
      if (options.namespace !== baseNames.namespace) {
        // kustomize's namespace transformer moves the Service reference but not
        // the selector that keeps the webhook away from its own namespace.
        operations.push({ op: 'replace', path: `/webhooks/${index}/namespaceSelector/matchExpressions/0/values`, value: ['kube-system', options.namespace] });
      }
    }
    return {
      target: { group: 'admissionregistration.k8s.io', version: 'v1', kind, name },
      patch: stringify(operations),
    };
  };

  const kustomization: Record<string, unknown> = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: options.namespace,
    resources: [toPosix(path.relative(options.overlayDir, options.baseDir)) || '.'],
    ...(options.image === undefined ? {} : { images: [{ name: baseNames.image, ...parseImageReference(options.image) }] }),
    secretGenerator: [
      {
        name: baseNames.secret,
        type: 'kubernetes.io/tls',
        files: ['tls.crt', 'tls.key', 'ca.crt'],
        // A fixed name: the mounted Secret is updated in place on `make deploy`
        // and the server picks up the new files without a restart.
        options: { disableNameSuffixHash: true },
      },
    ],
    patches: [
      webhookPatch('MutatingWebhookConfiguration', baseNames.mutatingWebhookConfiguration),
      webhookPatch('ValidatingWebhookConfiguration', baseNames.validatingWebhookConfiguration),
      webhookPatch('ValidatingWebhookConfiguration', baseNames.guardWebhookConfiguration, 2),
      ...(options.namespace === baseNames.namespace ? [] : policyBindingPatches(options.namespace)),
    ],
  };
  const file = path.join(options.overlayDir, 'kustomization.yaml');
  const header = '# Generated by src/tls/certs-command.ts (make deploy). Not tracked: regenerate instead of editing.\n';
  // Literal blocks keep the embedded JSON patches readable and unambiguous.
  await writeFileAtomic(file, header + stringify(kustomization, { blockQuote: 'literal' }), 0o644);
  return file;
}

/** The weight policy's bindings exclude the webhook's namespace too (deploy/base/policy.yaml). */
function policyBindingPatches(namespace: string) {
  return policyBindingNames.map((name) => ({
    target: { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingAdmissionPolicyBinding', name },
    patch: stringify([{ op: 'replace', path: '/spec/matchResources/namespaceSelector/matchExpressions/0/values', value: ['kube-system', namespace] }]),
  }));
}

function toPosix(relative: string): string {
  return relative.split(path.sep).join('/');
}

const usage = `Usage: certs-command [flags]

Writes ca.crt, ca.key, tls.crt, tls.key for the webhook Service into --out,
keeping existing files that still name the Service and are valid for 30+ days.

Flags:
  --namespace NS        namespace of the webhook Service (default canary-webhook)
  --service NAME        Service name (default canary-webhook)
  --cluster-domain D    cluster DNS domain (default cluster.local)
  --out DIR             where the files go (default certs)
  --validity-days N     validity of CA and certificate (default 365)
  --force               regenerate even when the existing files are fine
  --overlay DIR         also write a kustomize overlay there (for kubectl apply -k)
  --base DIR            the base the overlay builds on (default deploy/base)
  --image IMG           image for the overlay (default: the base's)
`;

export async function runCertsCommand(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        namespace: { type: 'string', default: baseNames.namespace },
        service: { type: 'string', default: baseNames.service },
        'cluster-domain': { type: 'string', default: 'cluster.local' },
        out: { type: 'string', default: 'certs' },
        'validity-days': { type: 'string', default: '365' },
        force: { type: 'boolean', default: false },
        overlay: { type: 'string' },
        base: { type: 'string', default: path.join('deploy', 'base') },
        image: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`certs-command: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const validityDays = Number(values['validity-days']);
  // A DNS-1123 label: the namespace and Service end up in DNS names and SANs.
  const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const problems = [
    Number.isInteger(validityDays) && validityDays > 0 ? undefined : `--validity-days must be a positive integer, got "${values['validity-days']}"`,
    label.test(values.namespace) && values.namespace.length <= 63 ? undefined : `--namespace "${values.namespace}" is not a valid namespace name`,
    label.test(values.service) && values.service.length <= 63 ? undefined : `--service "${values.service}" is not a valid Service name`,
    values.overlay === undefined || values.service === baseNames.service ? undefined : '--overlay patches the base, whose Service is canary-webhook: drop --service',
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length > 0) {
    process.stderr.write(`certs-command: ${problems.join('; ')}\n`);
    return 2;
  }

  const certs = await writeServingCertificates({
    namespace: values.namespace,
    service: values.service,
    outDir: values.out,
    clusterDomain: values['cluster-domain'],
    validityDays,
    force: values.force,
  });
  process.stdout.write(
    certs.generated
      ? `wrote ${certs.caPath}, ${certs.caKeyPath}, ${certs.certPath}, ${certs.keyPath} for ${certs.dnsNames.join(', ')}\n`
      : `${certs.certPath} still valid for ${certs.dnsNames.join(', ')}; kept (--force to regenerate)\n`,
  );
  if (values.overlay !== undefined) {
    const file = await writeLocalOverlay({
      overlayDir: values.overlay,
      baseDir: values.base,
      namespace: values.namespace,
      image: values.image,
      certs,
    });
    process.stdout.write(`wrote ${file} (kubectl apply -k ${values.overlay})\n`);
  }
  return 0;
}

// Run only as a script, so tests can import the functions above.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCertsCommand(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`certs-command: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
