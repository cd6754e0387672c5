// Runs the real binary (`node --import tsx src/cli/main.ts serve ...`) as a
// child process, reads its pino JSON log lines, and finds its port in the
// "canary-webhook listening" line. Used by the SIGTERM test and the soak.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './reliability-admission.js';

export interface LogLine { level: number; msg: string; [key: string]: unknown }

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  ca: Buffer;
  certDir: string;
  logs: LogLine[];
  /** Resolves with the first log line matching, waiting up to `timeoutMs`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr(): string;
}

export async function spawnServer(extraArgs: string[] = [], options: { startTimeoutMs?: number; nodeArgs?: string[] } = {}): Promise<ServerProcess> {
  const certDir = mkdtempSync(join(tmpdir(), 'canary-webhook-proc-'));
  const env = { ...process.env };
  delete env.KUBECONFIG;
  for (const name of Object.keys(env)) if (name.startsWith('CANARY_WEBHOOK_')) delete env[name];
  const child = spawn(process.execPath, [
    ...(options.nodeArgs ?? []), '--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'),
    'serve', '--standalone', '--port', '0', '--bind-address', '127.0.0.1', '--cert-dir', certDir, '--log-level', 'info',
    ...extraArgs,
  ], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });

  const logs: LogLine[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: LogLine) => void }> = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line.msg)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });

  const waitForLog = (pattern: RegExp, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = logs.find((line) => pattern.test(line.msg));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; stderr: ${stderr.slice(0, 2000)}`)), timeoutMs);
      const waiter = { pattern, resolve: (line: LogLine) => { clearTimeout(timer); resolve(line); } };
      waiters.push(waiter);
      void exited.then(() => {
        if (!waiters.includes(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`server exited before logging ${pattern}; stderr: ${stderr.slice(0, 2000)}`));
      });
    });
  };

  const listening = await waitForLog(/^canary-webhook listening/, options.startTimeoutMs ?? 30_000);
  const port = Number(listening.port);
  return { child, port, ca: readFileSync(join(certDir, 'ca.crt')), certDir, logs, waitForLog, exited, stderr: () => stderr };
}
