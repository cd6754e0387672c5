// The package version, for `--version`, the start-up log line and the
// build_info metric. package.json sits two folders up from src/, three from dist/src/.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'canary-webhook' && typeof manifest.version === 'string') return (cached = manifest.version);
    } catch {
      // Not at this level; try the next.
    }
  }
  return (cached = 'unknown');
}
