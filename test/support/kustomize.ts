// A small kustomize renderer for the manifest tests: exactly the features
// deploy/ uses (resources, patches, namespace, images, secretGenerator,
// configMapGenerator), and
// an error for anything else, so it can never silently render something
// different from `kubectl kustomize`. Where kubectl is installed the tests
// also compare the two outputs.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export interface Manifest extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

const supportedKeys = new Set(['apiVersion', 'kind', 'resources', 'patches', 'namespace', 'images', 'secretGenerator', 'configMapGenerator']);

// Kinds deploy/ uses that have no namespace; everything else is namespaced.
const clusterScopedKinds = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'CustomResourceDefinition',
  'ClusterIssuer',
]);

export async function renderKustomization(dir: string): Promise<Manifest[]> {
  const kustomization = asObject(parse(await readFile(path.join(dir, 'kustomization.yaml'), 'utf8')), `${dir}/kustomization.yaml`);
  for (const key of Object.keys(kustomization)) {
    if (!supportedKeys.has(key)) throw new Error(`${dir}/kustomization.yaml: "${key}" is not supported by the test renderer`);
  }

  let manifests: Manifest[] = [];
  for (const entry of stringList(kustomization.resources)) {
    const target = path.resolve(dir, entry);
    if ((await stat(target)).isDirectory()) manifests.push(...(await renderKustomization(target)));
    else manifests.push(...(await readManifests(target)));
  }
  for (const generator of objectList(kustomization.secretGenerator)) {
    manifests.push(await generateSecret(dir, generator));
  }
  for (const generator of objectList(kustomization.configMapGenerator)) {
    manifests.push(await generateConfigMap(dir, generator));
  }
  for (const patch of objectList(kustomization.patches)) {
    manifests = await applyPatch(dir, manifests, patch);
  }
  if (typeof kustomization.namespace === 'string') {
    manifests = manifests.map((manifest) => setNamespace(manifest, kustomization.namespace as string));
  }
  for (const image of objectList(kustomization.images)) {
    manifests = manifests.map((manifest) => setImage(manifest, image));
  }
  return manifests;
}

export async function readManifests(file: string): Promise<Manifest[]> {
  const documents = parseAllDocuments(await readFile(file, 'utf8'));
  const manifests: Manifest[] = [];
  for (const document of documents) {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    manifests.push(asManifest(value, file));
  }
  return manifests;
}

async function generateSecret(dir: string, generator: JsonObject): Promise<Manifest> {
  const options = generator.options;
  if (!isObject(options) || options.disableNameSuffixHash !== true) {
    throw new Error(`${dir}: secretGenerator without disableNameSuffixHash: true is not supported by the test renderer`);
  }
  const data: JsonObject = {};
  for (const entry of stringList(generator.files)) {
    const [key, file] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [path.basename(entry), entry];
    data[key] = (await readFile(path.resolve(dir, file))).toString('base64');
  }
  const metadata: Manifest['metadata'] = { name: String(generator.name) };
  if (typeof generator.namespace === 'string') metadata.namespace = generator.namespace;
  return { apiVersion: 'v1', kind: 'Secret', metadata, type: typeof generator.type === 'string' ? generator.type : 'Opaque', data };
}

async function generateConfigMap(dir: string, generator: JsonObject): Promise<Manifest> {
  const options = generator.options;
  if (!isObject(options) || options.disableNameSuffixHash !== true) {
    throw new Error(`${dir}: configMapGenerator without disableNameSuffixHash: true is not supported by the test renderer`);
  }
  const data: JsonObject = {};
  for (const entry of stringList(generator.files)) {
    const [key, file] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [path.basename(entry), entry];
    data[key] = await readFile(path.resolve(dir, file), 'utf8');
  }
  const metadata: Manifest['metadata'] = { name: String(generator.name) };
  if (typeof generator.namespace === 'string') metadata.namespace = generator.namespace;
  if (isObject(options.labels)) metadata.labels = options.labels;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata, data };
}

async function applyPatch(dir: string, manifests: Manifest[], patch: JsonObject): Promise<Manifest[]> {
  const text = typeof patch.path === 'string' ? await readFile(path.resolve(dir, patch.path), 'utf8') : String(patch.patch);
  const documents = parseAllDocuments(text).map((document) => document.toJS() as unknown);
  const target = isObject(patch.target) ? patch.target : undefined;
  if (documents.length === 1 && Array.isArray(documents[0])) {
    if (target === undefined) throw new Error(`${dir}: a JSON 6902 patch needs a target`);
    const operations = documents[0] as JsonObject[];
    return manifests.map((manifest) => (matchesTarget(manifest, target) ? applyJsonPatch(manifest, operations) : manifest));
  }
  // Strategic merge: each document names the object it patches.
  let result = manifests;
  for (const document of documents) {
    if (document === null || document === undefined) continue;
    const patchManifest = asManifest(document, `${dir} patch`);
    const selector = target ?? { kind: patchManifest.kind, name: patchManifest.metadata.name };
    let matched = false;
    result = result.map((manifest) => {
      if (!matchesTarget(manifest, selector)) return manifest;
      matched = true;
      return strategicMerge(manifest, patchManifest) as Manifest;
    });
    if (!matched) throw new Error(`${dir}: patch for ${patchManifest.kind}/${patchManifest.metadata.name} matches nothing`);
  }
  return result;
}

function matchesTarget(manifest: Manifest, target: JsonObject): boolean {
  const [group, version] = manifest.apiVersion.includes('/') ? manifest.apiVersion.split('/') : ['', manifest.apiVersion];
  return (
    (target.kind === undefined || target.kind === manifest.kind) &&
    (target.name === undefined || target.name === manifest.metadata.name) &&
    (target.namespace === undefined || target.namespace === manifest.metadata.namespace) &&
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version)
  );
}

/** Maps merge key by key, lists of named objects merge by name, anything else is replaced; null deletes. */
export function strategicMerge(base: Json, patch: Json): Json {
  if (isObject(base) && isObject(patch)) {
    const merged: JsonObject = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete merged[key];
      else merged[key] = key in base ? strategicMerge(base[key]!, value) : value;
    }
    return merged;
  }
  if (Array.isArray(base) && Array.isArray(patch) && [...base, ...patch].every((item) => isObject(item) && typeof item.name === 'string')) {
    const merged = [...base] as JsonObject[];
    for (const item of patch as JsonObject[]) {
      const index = merged.findIndex((existing) => existing.name === item.name);
      if (index >= 0) merged[index] = strategicMerge(merged[index]!, item) as JsonObject;
      else merged.push(item);
    }
    return merged;
  }
  return patch;
}

function applyJsonPatch(manifest: Manifest, operations: JsonObject[]): Manifest {
  const document = structuredClone(manifest) as JsonObject;
  for (const operation of operations) {
    const pointer = String(operation.path);
    const segments = pointer.split('/').slice(1).map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = segments.pop();
    if (last === undefined) throw new Error(`JSON patch path "${pointer}" is empty`);
    let parent: Json = document;
    for (const segment of segments) {
      const next: Json | undefined = Array.isArray(parent) ? parent[Number(segment)] : isObject(parent) ? parent[segment] : undefined;
      if (next === undefined) throw new Error(`JSON patch path "${pointer}" does not exist`);
      parent = next;
    }
    const value = operation.value ?? null;
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (operation.op === 'add') parent.splice(index, 0, value);
      else if (operation.op === 'replace') parent[index] = value;
      else if (operation.op === 'remove') parent.splice(index, 1);
      else throw new Error(`JSON patch op "${String(operation.op)}" is not supported by the test renderer`);
    } else if (isObject(parent)) {
      if (operation.op === 'add') parent[last] = value;
      else if (operation.op === 'replace') {
        if (!(last in parent)) throw new Error(`JSON patch replace of missing "${pointer}"`);
        parent[last] = value;
      } else if (operation.op === 'remove') delete parent[last];
      else throw new Error(`JSON patch op "${String(operation.op)}" is not supported by the test renderer`);
    } else {
      throw new Error(`JSON patch path "${pointer}" goes through a scalar`);
    }
  }
  return document as Manifest;
}

/** What kustomize's namespace transformer does to the kinds deploy/ uses. */
function setNamespace(manifest: Manifest, namespace: string): Manifest {
  const result = structuredClone(manifest);
  if (result.kind === 'Namespace') {
    result.metadata.name = namespace;
    return result;
  }
  if (!clusterScopedKinds.has(result.kind)) result.metadata.namespace = namespace;
  if (result.kind === 'ClusterRoleBinding' || result.kind === 'RoleBinding') {
    for (const subject of objectList(result.subjects)) {
      if (subject.kind === 'ServiceAccount') subject.namespace = namespace;
    }
  }
  if (result.kind === 'MutatingWebhookConfiguration' || result.kind === 'ValidatingWebhookConfiguration') {
    for (const webhook of objectList(result.webhooks)) {
      const clientConfig = webhook.clientConfig;
      if (isObject(clientConfig) && isObject(clientConfig.service)) clientConfig.service.namespace = namespace;
    }
  }
  return result;
}

function setImage(manifest: Manifest, image: JsonObject): Manifest {
  const result = structuredClone(manifest);
  const spec = result.spec;
  const template = isObject(spec) ? spec.template : undefined;
  const podSpec = isObject(template) ? template.spec : undefined;
  if (!isObject(podSpec)) return result;
  for (const container of [...objectList(podSpec.containers), ...objectList(podSpec.initContainers)]) {
    const current = String(container.image);
    const name = String(image.name);
    if (current !== name && !current.startsWith(`${name}:`) && !current.startsWith(`${name}@`)) continue;
    const newName = typeof image.newName === 'string' ? image.newName : name;
    const oldTag = current.slice(name.length);
    const suffix = typeof image.digest === 'string' ? `@${image.digest}` : typeof image.newTag === 'string' ? `:${image.newTag}` : oldTag;
    container.image = newName + suffix;
  }
  return result;
}

/** `kubectl kustomize DIR`, or undefined when kubectl (with its built-in kustomize) is not installed. */
export async function renderWithKubectl(dir: string): Promise<Manifest[] | undefined> {
  try {
    const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
    return parseAllDocuments(stdout)
      .map((document) => document.toJS() as unknown)
      .filter((value) => value !== null && value !== undefined)
      .map((value) => asManifest(value, `kubectl kustomize ${dir}`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * kustomize wraps long base64 values in Secret data across lines; the API
 * server's decoder skips the line breaks, so they are not a difference.
 */
export function normalizeForComparison(manifests: Manifest[]): Manifest[] {
  return manifests
    .map((manifest) => {
      if (manifest.kind !== 'Secret' || !isObject(manifest.data)) return manifest;
      const data = Object.fromEntries(Object.entries(manifest.data).map(([key, value]) => [key, typeof value === 'string' ? value.replace(/\s+/g, '') : value]));
      return { ...manifest, data };
    })
    .sort(byIdentity);
}

export function byIdentity(a: Manifest, b: Manifest): number {
  const key = (manifest: Manifest) => `${manifest.kind}/${manifest.metadata.namespace ?? ''}/${manifest.metadata.name}`;
  return key(a).localeCompare(key(b));
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown, where: string): JsonObject {
  if (!isObject(value)) throw new Error(`${where}: expected a mapping`);
  return value;
}

function asManifest(value: unknown, where: string): Manifest {
  const object = asObject(value, where);
  const metadata = object.metadata;
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string' || !isObject(metadata) || typeof metadata.name !== 'string') {
    throw new Error(`${where}: a manifest needs apiVersion, kind and metadata.name`);
  }
  return object as Manifest;
}

function stringList(value: Json | undefined): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) throw new Error('expected a list of strings');
  return value;
}

function objectList(value: Json | undefined): JsonObject[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isObject)) throw new Error('expected a list of mappings');
  return value;
}

