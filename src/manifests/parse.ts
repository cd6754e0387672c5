// One file's text → its YAML documents, each kept with its own source text
// and AST so output can pass it through byte for byte or edit it in place.
import { LineCounter, parseAllDocuments, type Document } from 'yaml';

export interface SourceDocument {
  /** The path as the user wrote it (or `<stdin>`): what messages show. */
  file: string;
  /** 1-based, counting empty documents too, so it matches counting `---` markers by eye. */
  index: number;
  /** 1-based line where the document starts. */
  line: number;
  /** Source text without its leading `---` marker, ending in a newline. */
  text: string;
  ast: Document.Parsed;
  /** 1-based line of an offset into the file; AST ranges are file offsets. */
  lineAt(offset: number): number;
  /** 1-based line and column of an offset into the file. */
  positionAt(offset: number): { line: number; column: number };
  /** The plain value; `null` for an empty document. */
  value: unknown;
}

export interface InputError {
  file: string;
  /** 1-based document index, when the problem is inside one document. */
  doc?: number;
  line?: number;
  column?: number;
  message: string;
}

export interface ParsedFile {
  documents: SourceDocument[];
  errors: InputError[];
}

/**
 * YAML 1.1 because that is what kubectl decodes (go-yaml v2): `yes` is a
 * boolean and `0755` octal there, and check must see what the API server sees.
 */
const parseOptions = { version: '1.1', prettyErrors: true } as const;

/** Aliases a document may expand: real manifests use a handful. */
export const MAX_ALIAS_COUNT = 100;

export function parseManifestText(file: string, source: string): ParsedFile {
  const text = source.startsWith('\uFEFF') ? source.slice(1) : source;
  const lineCounter = new LineCounter();
  const asts = parseAllDocuments(text, { ...parseOptions, lineCounter });
  // parseAllDocuments returns an EmptyStream (not an array) for input with no documents.
  if (!Array.isArray(asts)) return { documents: [], errors: [] };
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const positionAt = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const starts = asts.map((ast, i) => (i === 0 ? 0 : ast.range[0]));
  const documents: SourceDocument[] = [];
  const errors: InputError[] = [];
  asts.forEach((ast, i) => {
    const index = i + 1;
    const line = lineAt(ast.contents?.range?.[0] ?? ast.range[0]);
    const [first] = ast.errors;
    if (first) {
      const [pos] = first.linePos ?? [];
      errors.push({ file, doc: index, line: pos?.line ?? line, column: pos?.col, message: `document ${index} is not valid YAML: ${firstLine(first.message)}` });
      return;
    }
    let value: unknown;
    try {
      // maxAliasCount bounds alias expansion ("billion laughs"): past it toJS throws.
      value = ast.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      errors.push({ file, doc: index, line, message: `document ${index} cannot be read: ${firstLine((error as Error).message)}` });
      return;
    }
    // An anchor used inside itself (`spec: &s {loop: *s}`) becomes a cycle every later
    // step (clone, patch, print) would recurse through until the stack overflows.
    if (isCyclic(value)) {
      errors.push({ file, doc: index, line, message: `document ${index} cannot be read: an alias refers to an anchor that contains it (a recursive structure, which Kubernetes cannot represent)` });
      return;
    }
    const slice = text.slice(starts[i], starts[i + 1] ?? text.length);
    documents.push({ file, index, line, text: withoutMarker(slice), ast, lineAt, positionAt, value: value ?? null });
  });
  return { documents, errors };
}

/** The yaml library appends " at line L, column C:" and a code excerpt; the caller prints the position itself. */
function firstLine(message: string): string {
  const [head = ''] = message.split('\n');
  return head.replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Drop the `---` that opens a document (output writes its own separators),
 * keeping anything after it on that line (`--- # note`, `--- {a: 1}`).
 */
function withoutMarker(slice: string): string {
  let text = slice;
  if (/^---(\s|$)/.test(text)) {
    const rest = text.slice(3);
    const blankLine = /^[ \t]*(\r?\n|$)/.exec(rest);
    text = blankLine ? rest.slice(blankLine[0].length) : rest.replace(/^[ \t]+/, '');
  }
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/** Does `root` reach itself? Iterative (no stack to overflow) and each object once (shared aliases are not cycles). */
export function isCyclic(root: unknown): boolean {
  if (root === null || typeof root !== 'object') return false;
  const done = new Set<object>();
  const onPath = new Set<object>();
  const stack: Array<{ node: object; children: unknown[]; next: number }> = [{ node: root, children: Object.values(root), next: 0 }];
  onPath.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.children.length) {
      stack.pop();
      onPath.delete(top.node);
      done.add(top.node);
      continue;
    }
    const child = top.children[top.next++];
    if (child === null || typeof child !== 'object' || done.has(child)) continue;
    if (onPath.has(child)) return true;
    onPath.add(child);
    stack.push({ node: child, children: Object.values(child), next: 0 });
  }
  return false;
}
