// Documents → Kubernetes objects: `kind: List` (and `*List`) flattened, every
// object tagged with where it came from so findings can point back at it.
import { isMap, isSeq, isScalar } from 'yaml';
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

/** A document that is no Kubernetes object at all (a Helm values file, a workflow): passed over, not an error. */
export interface SkippedDocument {
  file: string;
  doc: number;
  line: number;
  message: string;
}

export function toObjects(documents: readonly SourceDocument[]): { objects: ManifestObject[]; errors: InputError[]; skipped: SkippedDocument[] } {
  const objects: ManifestObject[] = [];
  const errors: InputError[] = [];
  const skipped: SkippedDocument[] = [];
  for (const document of documents) {
    if (document.value === null) continue;
    if (isForeign(document.value)) {
      // Folders of manifests hold values.yaml, CI workflows and the like; they were never meant for kubectl.
      skipped.push({ file: document.file, doc: document.index, line: document.line, message: `document ${document.index} is not a Kubernetes object (no apiVersion and kind); skipped` });
      continue;
    }
    collect(document, document.value, [], objects, errors);
  }
  return { objects, errors, skipped };
}

/** Neither apiVersion nor kind: not a Kubernetes object. Exactly one of them is a broken one, which stays an error. */
function isForeign(value: unknown): boolean {
  if (!isJsonObject(value)) return true;
  return value.apiVersion === undefined && value.kind === undefined;
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
  return positionOf(document, keys).line;
}

/**
 * Line and column of the node at `keys` (the deepest one that exists), where
 * an editor should put the cursor: a map entry's key (`route:`), a list
 * item's first character. The document's first line when nothing matches.
 */
export function positionOf(document: SourceDocument, keys: readonly Key[]): { line: number; column: number } {
  for (let n = keys.length; n > 0; n--) {
    const offset = startOf(document.ast.getIn(keys.slice(0, n - 1), true), keys[n - 1]!);
    if (offset !== undefined) return document.positionAt(offset);
  }
  const root = document.ast.contents?.range?.[0];
  return root === undefined ? { line: document.line, column: 1 } : document.positionAt(root);
}

function startOf(parent: unknown, key: Key): number | undefined {
  if (typeof key === 'number' && isSeq(parent)) {
    const item: unknown = parent.items[key];
    return isNode(item) ? item.range?.[0] : undefined;
  }
  if (typeof key === 'string' && isMap(parent)) {
    for (const pair of parent.items) {
      const name = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(name) === key) return isNode(pair.key) ? pair.key.range?.[0] : undefined;
    }
  }
  return undefined;
}

function isNode(value: unknown): value is { range?: [number, number, number] } {
  return isJsonObject(value) && Array.isArray(value.range);
}
