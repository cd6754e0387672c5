// Pinning benchmark processes to one CPU (Linux `taskset`), so a figure is
// what one core does: the server under test apart from its load generator,
// an adversarial review with its GC helper threads on the same core.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

/** taskset exists and there are at least two CPUs to keep apart. */
export const hasTaskset = spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).status === 0 && cpus().length >= 2;

/** `node args` on CPU `cpu` when pinning is possible, else unpinned. */
export function nodeCommand(cpu: string, args: string[]): [string, string[]] {
  return hasTaskset ? ['taskset', ['-c', cpu, process.execPath, ...args]] : [process.execPath, args];
}
