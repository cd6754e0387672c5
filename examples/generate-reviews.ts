// Regenerates examples/reviews/*.json, the AdmissionReview bodies the API
// server would send for each manifest, so they can be tried with curl:
//   node --import tsx examples/generate-reviews.ts
// test/examples.test.ts fails when a body no longer matches its manifest.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const manifestsDir = new URL('./manifests/', import.meta.url).pathname;
export const reviewsDir = new URL('./reviews/', import.meta.url).pathname;

interface Manifest { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }

const resources: Record<string, { group: string; version: string; resource: string }> = {
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments' },
  VirtualService: { group: 'networking.istio.io', version: 'v1', resource: 'virtualservices' },
};

/** `10-deployment-v1.yaml` → `mutate-demo4-v1.json`; `30-virtualservice-90-10.yaml` → `validate-90-10.json`. */
export function reviewFileName(manifestFile: string, manifest: Manifest): string {
  if (manifest.kind === 'Deployment') return `mutate-${manifest.metadata.name}.json`;
  const stem = manifestFile.replace(/^\d+-/, '').replace(/\.ya?ml$/, '').replace(/^virtualservice-/, '');
  return `validate-${stem}.json`;
}

export function admissionReviewFor(manifest: Manifest, index: number): object {
  const target = resources[manifest.kind];
  if (!target) throw new Error(`no webhook reviews ${manifest.kind}`);
  const namespace = manifest.metadata.namespace ?? 'default';
  const gvk = { group: target.group, version: target.version, kind: manifest.kind };
  const gvr = { group: target.group, version: target.version, resource: target.resource };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      name: manifest.metadata.name,
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
      object: manifest,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions', fieldManager: 'kubectl-client-side-apply' },
    },
  };
}

export function generateReviews(): Map<string, string> {
  const out = new Map<string, string>();
  readdirSync(manifestsDir).filter((file) => file.endsWith('.yaml')).sort().forEach((file, index) => {
    const manifest = parse(readFileSync(join(manifestsDir, file), 'utf8')) as Manifest;
    const target = resources[manifest.kind];
    if (!target) return;
    out.set(reviewFileName(file, manifest), `${JSON.stringify(admissionReviewFor(manifest, index + 1), null, 2)}\n`);
  });
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  for (const [file, body] of generateReviews()) writeFileSync(join(reviewsDir, file), body);
}
