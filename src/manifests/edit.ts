// Edits applied to a document's AST rather than re-serialising the object, so
// the user's comments, key order and quoting survive `inject`, and a document
// nothing changed in is printed exactly as it was read.
import { Document, isCollection, isMap, isSeq } from 'yaml';
import { diffPatch } from '../rules/patch.js';
import type { Key } from './objects.js';
import type { SourceDocument } from './parse.js';
import { quoteAmbiguousStrings } from './quoting.js';

export class DocumentEditor {
  private edited: Document | undefined;

  constructor(private readonly document: SourceDocument) {}

  /** Turn the object at `at` from `original` into `updated`; a no-op when they are equal. */
  apply(at: readonly Key[], original: unknown, updated: unknown): void {
    const operations = diffPatch(original, updated);
    if (operations.length === 0) return;
    this.edited ??= this.document.ast.clone();
    for (const operation of operations) {
      const keys = [...at, ...operation.path.split('/').slice(1).map(unescapePointer)];
      const value = 'value' in operation ? operation.value : undefined;
      applyOperation(this.edited, operation.op, keys, value);
    }
  }

  render(): string {
    if (!this.edited) return this.document.text;
    const ast = this.edited;
    if (isCollection(ast.contents) && ast.contents.flow) {
      // JSON input: an edited flow mapping would come out as one long line; block YAML reads better.
      return renderObject(ast.toJS());
    }
    if (ast.directives) ast.directives.docStart = null;
    quoteAmbiguousStrings(ast);
    return ast.toString({ ...stringifyOptions, indentSeq: indentsSequences(this.document.text) });
  }
}

/** A new object (a DestinationRule the webhook would create) as a YAML document, in the list style of `styleOf`. */
export function renderObject(value: unknown, styleOf?: SourceDocument): string {
  const indentSeq = styleOf ? indentsSequences(styleOf.text) : true;
  const document = new Document(value, { version: '1.1' });
  quoteAmbiguousStrings(document);
  return document.toString({ ...stringifyOptions, indentSeq });
}

// No folding: a long image reference or message split over lines is harder to diff.
const stringifyOptions = { lineWidth: 0 } as const;

function applyOperation(ast: Document, op: string, keys: Key[], value: unknown): void {
  const parentTyped = typed(ast, keys.slice(0, -1));
  const parent: unknown = parentTyped.length === 0 ? ast.contents : ast.getIn(parentTyped, true);
  const last = keys[keys.length - 1] ?? '';
  if (isSeq(parent)) {
    const index = last === '-' ? parent.items.length : Number(last);
    if (op === 'add') parent.items.splice(index, 0, ast.createNode(value));
    else if (op === 'replace') parent.items[index] = ast.createNode(value);
    else if (op === 'remove') parent.items.splice(index, 1);
    return;
  }
  if (op === 'remove') ast.deleteIn([...parentTyped, last]);
  else ast.setIn([...parentTyped, last], ast.createNode(value));
}

/** JSON Pointer segments are strings; sequence indices in the AST must be numbers. */
function typed(ast: Document, keys: readonly Key[]): Key[] {
  const result: Key[] = [];
  let node: unknown = ast.contents;
  for (const key of keys) {
    const next: Key = isSeq(node) ? Number(key) : key;
    result.push(next);
    node = isMap(node) || isSeq(node) ? node.get(next, true) : undefined;
  }
  return result;
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Keep the file's list style: `key:\n- item` (kubectl's and most hand-written
 * YAML) or `key:\n  - item` (the yaml library's default).
 */
function indentsSequences(text: string): boolean {
  const match = /^([ \t]*)[^\s#-][^\n]*:[ \t]*\r?\n([ \t]*)- /m.exec(text);
  return match ? (match[2] ?? '').length > (match[1] ?? '').length : true;
}
