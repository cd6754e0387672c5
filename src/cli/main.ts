// The `canary-webhook` binary. Everything testable lives in dispatch.ts; this
// file only binds it to the process.
import { runCli } from './dispatch.js';

// `canary-webhook inject ... | head` closes the pipe early; that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    cwd: process.cwd(),
    env: process.env,
  });
} catch (error) {
  process.stderr.write(`canary-webhook: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
