// Documents → Kubernetes objects: `kind: List` (and `*List`) flattened, every
// object tagged with where it came from so findings can point back at it.
import type { JsonObject } from '../rules/types.js';
import type { InputError, SourceDocument } from './parse.js';

export type Key = string | number;

export interface ManifestObject {
  /** Position in the whole input: findings are printed in this order. */
  seq: number;
  document: SourceDocument;
  /** Keys from the document root to the object: `[]`, or `['items', 2]` inside a List. */
  at: Key[];
  object: JsonObject;
  apiVersion: string;
  kind: string;
  name: string | undefined;
  namespace: string | undefined;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function toObjects(documents: readonly SourceDocument[]): { objects: ManifestObject[]; errors: InputError[] } {
  const objects: ManifestObject[] = [];
  const errors: InputError[] = [];
  for (const document of documents) {
    if (document.value === null) continue;
    collect(document, document.value, [], objects, errors);
  }
  return { objects, errors };
}

function collect(document: SourceDocument, value: unknown, at: Key[], objects: ManifestObject[], errors: InputError[]): void {
  const where = at.length === 0 ? `document ${document.index}` : `document ${document.index}, ${describePath(at)},`;
  const fail = (message: string): void => {
    errors.push({ file: document.file, doc: document.index, line: lineOf(document, at), message: `${where} ${message}` });
  };
  if (!isJsonObject(value)) {
    // kubectl refuses these too; a silent skip would hide a file that is not what its author thinks.
    fail('is not a Kubernetes object (a mapping with apiVersion and kind)');
    return;
  }
  const { apiVersion, kind } = value;
  if (typeof kind !== 'string' || kind === '' || typeof apiVersion !== 'string' || apiVersion === '') {
    fail('has no apiVersion or kind');
    return;
  }
  if (kind.endsWith('List') && Array.isArray(value.items)) {
    value.items.forEach((item: unknown, i: number) => collect(document, item, [...at, 'items', i], objects, errors));
    return;
  }
  const metadata = isJsonObject(value.metadata) ? value.metadata : {};
  objects.push({
    seq: objects.length,
    document,
    at,
    object: value,
    apiVersion,
    kind,
    name: nonEmptyString(metadata.name),
    namespace: nonEmptyString(metadata.namespace),
  });
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `['items', 2, 'spec']` → `items[2].spec`: the notation the rules use for paths. */
export function describePath(keys: readonly Key[]): string {
  return keys.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
}

/** `spec.http[1].route` → `['spec', 'http', 1, 'route']`. */
export function parsePath(path: string): Key[] {
  const keys: Key[] = [];
  for (const match of path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) {
    keys.push(match[1] !== undefined ? Number(match[1]) : (match[2] ?? ''));
  }
  return keys;
}

/** The line of the node at `keys` (deepest one that exists), else the document's first line. */
export function lineOf(document: SourceDocument, keys: readonly Key[]): number {
  for (let n = keys.length; n > 0; n--) {
    const node: unknown = document.ast.getIn(keys.slice(0, n), true);
    const range = isJsonObject(node) && Array.isArray(node.range) ? node.range : undefined;
    if (typeof range?.[0] === 'number') return document.lineAt(range[0]);
  }
  return document.line;
}
