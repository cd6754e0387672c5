// What `check` reports and how it prints it: one line per problem for people
// and CI logs, a JSON array for machines.
import { describePath, parsePath, positionOf, type ManifestObject, type SkippedDocument } from '../manifests/objects.js';
import type { InputError } from '../manifests/parse.js';

export type Severity = 'error' | 'warning';

export interface Finding {
  file: string;
  /** 1-based document index in the file; null when the whole file could not be read. */
  doc: number | null;
  /** 1-based line of the offending node (for editors and CI annotations); null when unknown. */
  line: number | null;
  /** 1-based column of the offending node; null when unknown. */
  column: number | null;
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
  const position = positionOf(item.document, keys);
  return {
    file: item.document.file,
    doc: item.document.index,
    line: position.line,
    column: position.column,
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
    column: error.column ?? null,
    kind: null,
    namespace: null,
    name: null,
    path: '',
    severity: 'error',
    message: error.message,
  };
}

/**
 * `file:line:column: Kind namespace/name: path: message`, with `warning: `
 * after the location for warnings: the shape compilers print, so editors,
 * terminals and CI problem matchers jump to the node.
 */
export function formatFinding(finding: Finding): string {
  const location = locate(finding.file, finding.line, finding.column);
  const marker = finding.severity === 'warning' ? 'warning: ' : '';
  const subject = finding.kind === null ? '' : `${finding.kind} ${finding.namespace ?? ''}/${finding.name ?? '(unnamed)'}: `;
  const path = finding.path === '' ? '' : `${finding.path}: `;
  return `${location}: ${marker}${subject}${path}${oneLine(finding.message)}`;
}

/** Input errors name the line, not the document: that is where an editor should jump. */
export function formatInputError(error: InputError): string {
  return `${locate(error.file, error.line ?? null, error.column ?? null)}: ${error.message}`;
}

export function formatSkipped(skipped: SkippedDocument): string {
  return `${locate(skipped.file, skipped.line, 1)}: note: ${skipped.message}`;
}

function locate(file: string, line: number | null, column: number | null): string {
  if (line === null) return file;
  return `${file}:${line}${column === null ? '' : `:${column}`}`;
}

/**
 * A GitHub Actions workflow command (`::error file=…,line=…,col=…::message`):
 * the runner turns it into an annotation on the pull request's diff.
 * Escaping as the runner's toolkit does (actions/toolkit, packages/core/src/command.ts).
 */
export function formatGithub(finding: Finding): string {
  const properties = [`file=${escapeProperty(finding.file)}`];
  if (finding.line !== null) properties.push(`line=${finding.line}`);
  if (finding.column !== null) properties.push(`col=${finding.column}`);
  if (finding.kind !== null) properties.push(`title=${escapeProperty(`${finding.kind} ${finding.namespace ?? ''}/${finding.name ?? '(unnamed)'}`)}`);
  const path = finding.path === '' ? '' : `${finding.path}: `;
  return `::${finding.severity} ${properties.join(',')}::${escapeData(`${path}${finding.message}`)}`;
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

// Denials joined with newlines would break the one-problem-per-line contract grep relies on.
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, '; ');
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
