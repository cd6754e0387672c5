// Namespace objects in manifests: standalone mode (`--seed-dir`) and the
// offline commands read their labels the way the kube store's Namespace
// cache does, so injection (SPEC §2) is decided alike everywhere.
import type { ManifestObject } from './objects.js';
import { isJsonObject } from './objects.js';

export function isNamespace(item: ManifestObject): boolean {
  return item.kind === 'Namespace' && item.apiVersion === 'v1';
}

/**
 * Name → labels of every Namespace among `objects` (a later document of the
 * same name wins, as a later apply would). Label values that are not
 * strings are dropped: the API server would refuse them.
 */
export function namespaceLabelsOf(objects: readonly ManifestObject[]): Map<string, Readonly<Record<string, string>>> {
  const found = new Map<string, Readonly<Record<string, string>>>();
  for (const item of objects) {
    if (!isNamespace(item) || item.name === undefined) continue;
    const metadata = item.object.metadata;
    const labels = isJsonObject(metadata) && isJsonObject(metadata.labels) ? metadata.labels : {};
    const strings: Record<string, string> = {};
    for (const [key, value] of Object.entries(labels)) if (typeof value === 'string') strings[key] = value;
    found.set(item.name, Object.freeze(strings));
  }
  return found;
}
