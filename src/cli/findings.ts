// What `check` reports and how it prints it: one line per problem for people
// and CI logs, a JSON array for machines.
import { describePath, lineOf, parsePath, type ManifestObject } from '../manifests/objects.js';
import type { InputError } from '../manifests/parse.js';

export type Severity = 'error' | 'warning';

export interface Finding {
  file: string;
  /** 1-based document index in the file; null when the whole file could not be read. */
  doc: number | null;
  /** 1-based line of the offending node (for editors and CI annotations); null when unknown. */
  line: number | null;
  /** null for input that could not be read or parsed. */
  kind: string | null;
  namespace: string | null;
  name: string | null;
  /** JSON path inside the document, e.g. `spec.http[0].route`; `''` for the object as a whole. */
  path: string;
  severity: Severity;
  message: string;
}

/** A finding about `item`, `path` relative to the object (the rules' notation). */
export function findingAbout(item: ManifestObject, namespace: string, severity: Severity, path: string, message: string): Finding {
  // `$` is the rules' name for the object itself.
  const keys = [...item.at, ...(path === '$' ? [] : parsePath(path))];
  return {
    file: item.document.file,
    doc: item.document.index,
    line: lineOf(item.document, keys),
    kind: item.kind,
    namespace,
    name: item.name ?? null,
    path: describePath(keys),
    severity,
    message,
  };
}

/** Rule warnings are plain strings; most start with the path they concern. */
export function splitPath(warning: string): { path: string; message: string } {
  const match = /^((?:spec|metadata)(?:\.[\w-]+|\[\d+\])*): ([\s\S]*)$/.exec(warning);
  return match ? { path: match[1] ?? '', message: match[2] ?? '' } : { path: '', message: warning };
}

export function findingFromInputError(error: InputError): Finding {
  return {
    file: error.file,
    doc: error.doc ?? null,
    line: error.line ?? null,
    kind: null,
    namespace: null,
    name: null,
    path: '',
    severity: 'error',
    message: error.message,
  };
}

/** `file:doc: Kind namespace/name: path: message`, with `warning: ` after the location for warnings. */
export function formatFinding(finding: Finding): string {
  const location = finding.doc === null ? finding.file : `${finding.file}:${finding.doc}`;
  const marker = finding.severity === 'warning' ? 'warning: ' : '';
  const subject = finding.kind === null ? '' : `${finding.kind} ${finding.namespace ?? ''}/${finding.name ?? '(unnamed)'}: `;
  const path = finding.path === '' ? '' : `${finding.path}: `;
  return `${location}: ${marker}${subject}${path}${oneLine(finding.message)}`;
}

/** Input errors name the line, not the document: that is where an editor should jump. */
export function formatInputError(error: InputError): string {
  const position = error.line === undefined ? '' : ` line ${error.line}${error.column === undefined ? '' : `, column ${error.column}`}:`;
  return `${error.file}:${position} ${error.message}`;
}

// Denials joined with newlines would break the one-problem-per-line contract grep relies on.
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, '; ');
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
