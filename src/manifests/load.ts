// Paths → documents: files, folders (recursively, in sorted order, like
// `kubectl apply -R`), and `-` for stdin. A file that cannot be read or
// parsed is reported and the rest are still read, so one run shows everything.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseManifestText, type InputError, type SourceDocument } from './parse.js';

export interface ManifestIo {
  stdin: AsyncIterable<string | Uint8Array>;
  cwd: string;
}

export interface LoadedInput {
  documents: SourceDocument[];
  errors: InputError[];
  /** How many files (stdin counts as one) were read. */
  files: number;
}

export const STDIN_NAME = '<stdin>';

const manifestExtensions = new Set(['.yaml', '.yml', '.json']);

export async function loadManifests(paths: readonly string[], io: ManifestIo): Promise<LoadedInput> {
  const result: LoadedInput = { documents: [], errors: [], files: 0 };
  const seen = new Set<string>();
  for (const path of paths) {
    for (const file of await expand(path, io.cwd, result.errors)) {
      // The same file named twice (or a file and its folder) would define every object twice.
      const key = file === '-' ? '-' : resolve(io.cwd, file);
      if (seen.has(key)) continue;
      seen.add(key);
      const text = await readSource(file, io, result.errors);
      if (text === undefined) continue;
      result.files++;
      const parsed = parseManifestText(file === '-' ? STDIN_NAME : file, text);
      result.documents.push(...parsed.documents);
      result.errors.push(...parsed.errors);
    }
  }
  return result;
}

/** A path → the files it names, as display paths relative to what the user typed. */
async function expand(path: string, cwd: string, errors: InputError[]): Promise<string[]> {
  if (path === '-') return ['-'];
  try {
    const info = await stat(resolve(cwd, path));
    if (!info.isDirectory()) return [path];
    const files = await walk(path, cwd);
    // kubectl says the same: an empty folder is more likely a typo than an intent.
    if (files.length === 0) errors.push({ file: path, message: 'folder holds no .yaml, .yml or .json files' });
    return files;
  } catch (error) {
    errors.push({ file: path, message: `cannot read: ${describeFsError(error)}` });
    return [];
  }
}

async function walk(folder: string, cwd: string): Promise<string[]> {
  const entries = await readdir(resolve(cwd, folder), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(folder, entry.name);
    // Symlinked folders are not followed (as filepath.Walk does), so a link loop cannot hang the walk.
    if (entry.isDirectory()) {
      // `check -f .` in a repository must not read .git, .github or node_modules: none of it is what gets applied.
      if (!skippedFolder(entry.name)) files.push(...(await walk(path, cwd)));
    }
    else if (manifestExtensions.has(extname(entry.name).toLowerCase()) && (entry.isFile() || entry.isSymbolicLink())) files.push(path);
  }
  return files;
}

/** Hidden folders and node_modules are skipped when walking; a folder named on the command line is still read. */
function skippedFolder(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.');
}

async function readSource(file: string, io: ManifestIo, errors: InputError[]): Promise<string | undefined> {
  try {
    return file === '-' ? await readAll(io.stdin) : await readFile(resolve(io.cwd, file), 'utf8');
  } catch (error) {
    errors.push({ file: file === '-' ? STDIN_NAME : file, message: `cannot read: ${describeFsError(error)}` });
    return undefined;
  }
}

async function readAll(stream: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or folder';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder';
  return (error as Error).message;
}
