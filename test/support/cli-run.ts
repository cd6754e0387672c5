// One in-process runner for every CLI test: runs a command (runCheck,
// runInject, runCli) with a CliIo that captures stdout and stderr, so the
// tests do not each build their own copy of the same io.
import { Readable } from 'node:stream';
import type { CliIo } from '../../src/cli/io.js';

export type CliCommand = (argv: readonly string[], io: CliIo) => Promise<number>;

export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Where relative paths resolve; process.cwd() when absent. */
  cwd?: string;
  /** The whole of stdin as one chunk; empty when absent. */
  stdin?: string;
  /** The command's environment; {} when absent, so the host's KUBECONFIG never leaks in. */
  env?: NodeJS.ProcessEnv;
}

export async function runCaptured(command: CliCommand, argv: readonly string[], options: RunOptions = {}): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const code = await command(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? {},
  });
  return { code, stdout, stderr };
}
