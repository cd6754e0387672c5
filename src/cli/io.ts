// The process seams commands use, so tests run them in-process.
export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  stdin: AsyncIterable<string | Uint8Array>;
  cwd: string;
  /** For KUBECONFIG and friends; process.env when absent. */
  env?: NodeJS.ProcessEnv;
}
