// `canary-webhook COMMAND ...`: picks the command; each returns its exit code.
import { readFile } from 'node:fs/promises';
import { checkHelp, runCheck } from './check.js';
import { injectHelp, runInject } from './inject.js';
import { policyHelp, runPolicy } from './policy.js';
import type { CliIo } from './io.js';

export const mainHelp = `canary-webhook: safe Istio canary releases (Kubernetes admission webhook)

Usage:
  canary-webhook serve [flags]             run the admission webhook over HTTPS
  canary-webhook check -f PATH... [flags]  check manifests offline, as the webhook would (CI)
  canary-webhook inject -f PATH... [flags] print manifests as the webhook would change them
  canary-webhook policy [flags]            print the ValidatingAdmissionPolicy for the weight rules
  canary-webhook help [COMMAND]            show help for a command
  canary-webhook --version                 print the version

Examples:
  canary-webhook serve --standalone --seed-dir examples/seed
  canary-webhook check -f k8s/
  canary-webhook inject -f reviews-v2.yaml | kubectl apply -f -
`;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'check':
      return runCheck(rest, io);
    case 'inject':
      return runInject(rest, io);
    case 'policy':
      return runPolicy(rest, io);
    case 'serve':
      return serve(rest, io);
    case 'help':
    case '--help':
    case '-h':
      return help(rest[0], io);
    case '--version':
    case 'version':
      io.stdout.write(`${await version()}\n`);
      return 0;
    default:
      io.stderr.write(`${command === undefined ? 'canary-webhook: no command given' : `canary-webhook: unknown command "${command}"`}\n\n${mainHelp}`);
      return 2;
  }
}

async function help(topic: string | undefined, io: CliIo): Promise<number> {
  if (topic === 'serve') return serve(['--help'], io);
  const text = topic === undefined ? mainHelp : { check: checkHelp, inject: injectHelp, policy: policyHelp }[topic];
  if (text === undefined) {
    io.stderr.write(`canary-webhook: no help for unknown command "${topic}"\n\n${mainHelp}`);
    return 2;
  }
  io.stdout.write(text);
  return 0;
}

async function serve(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    const { serveUsage } = await import('../config.js');
    io.stdout.write(serveUsage());
    return 0;
  }
  // Imported on demand: check and inject must not load the server's dependencies.
  const { startServer } = await import('../server/start.js');
  await startServer([...argv]);
  // startServer reports bad flags and start-up failures through process.exitCode; keep it.
  const code = process.exitCode;
  return typeof code === 'number' ? code : 0;
}

/** package.json sits two folders up from src/cli, three from dist/src/cli. */
async function version(): Promise<string> {
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const manifest = JSON.parse(await readFile(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'canary-webhook' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // Not at this level; try the next.
    }
  }
  return 'unknown';
}
