// `canary-webhook COMMAND ...`: picks the command; each returns its exit code.
import { packageVersion } from '../version.js';
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
  canary-webhook --version                 print the version (also -v)

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
    case '-v':
    case 'version':
      io.stdout.write(`${packageVersion()}\n`);
      return 0;
    case undefined:
      io.stderr.write(`canary-webhook: no command given\n\n${mainHelp}`);
      return 2;
    default:
      // One line and where to look, not a screen of help above the mistake.
      io.stderr.write(`canary-webhook: unknown ${command.startsWith('-') ? 'flag' : 'command'} "${command}"\nRun 'canary-webhook --help' for usage.\n`);
      return 2;
  }
}

async function help(topic: string | undefined, io: CliIo): Promise<number> {
  if (topic === 'serve') return serve(['--help'], io);
  const text = topic === undefined ? mainHelp : { check: checkHelp, inject: injectHelp, policy: policyHelp }[topic];
  if (text === undefined) {
    io.stderr.write(`canary-webhook: no help for unknown command "${topic}"\nRun 'canary-webhook --help' for usage.\n`);
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
