// RSS of the real server (a child process at the shipped heap cap) while
// clients hold connections without sending a request, or stall a large
// body (issue 10). Run: node --import tsx bench/connections-memory.ts [repoRoot]
// Prints one JSON line per scenario. Linux only (RSS from /proc).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
const IDLE_CONNECTIONS = Number(process.env.IDLE_CONNECTIONS ?? 4_000);
const STALLED_BODIES = Number(process.env.STALLED_BODIES ?? 30);

const rssMiB = (pid: number): number => Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 102.4) / 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startServer(extra: string[]): Promise<{ pid: number; port: number; ca: Buffer; stop(): void }> {
  const certDir = mkdtempSync(join(tmpdir(), 'canary-webhook-conn-'));
  // The built server when there is one (npm run build): tsx's own memory would hide what connections cost.
  const entry = existsSync(join(root, 'dist', 'src', 'cli', 'main.js')) ? [join(root, 'dist', 'src', 'cli', 'main.js')] : ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];
  const child = spawn(process.execPath, ['--max-old-space-size=192', ...entry, 'serve', '--standalone', '--port', '0', '--bind-address', '127.0.0.1', '--cert-dir', certDir, ...extra], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '', HOME: certDir } });
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const line = buffer.split('\n').find((l) => l.includes('canary-webhook listening'));
      if (line) resolve(Number((JSON.parse(line) as { port: number }).port));
    });
    child.once('exit', () => reject(new Error('server exited')));
  });
  return { pid: child.pid!, port, ca: readFileSync(join(certDir, 'ca.crt')), stop: () => { child.kill('SIGKILL'); rmSync(certDir, { recursive: true, force: true }); } };
}

function open(port: number, ca: Buffer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function idle(extra: string[]): Promise<void> {
  const server = await startServer(extra);
  await sleep(1_000);
  const baseline = rssMiB(server.pid);
  const sockets: TLSSocket[] = [];
  let closedByServer = 0;
  for (let i = 0; i < IDLE_CONNECTIONS; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, IDLE_CONNECTIONS - i) }, () => open(server.port, server.ca).catch(() => undefined)));
    for (const socket of batch) if (socket) { socket.on('error', () => undefined); socket.once('close', () => void (closedByServer += 1)); sockets.push(socket); }
  }
  const opened = rssMiB(server.pid);
  await sleep(15_000);
  const later = rssMiB(server.pid);
  console.log(JSON.stringify({ scenario: 'idle TLS connections', connections: sockets.length, baselineRssMiB: baseline, rssMiBWhenOpen: opened, rssMiBAfter15s: later, closedByServer }));
  for (const socket of sockets) socket.destroy();
  server.stop();
}

async function stalled(extra: string[]): Promise<void> {
  const server = await startServer(extra);
  await sleep(1_000);
  const baseline = rssMiB(server.pid);
  const bodyBytes = Number(process.env.STALLED_BODY_BYTES ?? 3 * 1024 * 1024 - 1024);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const sockets: TLSSocket[] = [];
  let peak = baseline;
  for (let i = 0; i < STALLED_BODIES; i++) {
    const socket = await open(server.port, server.ca);
    socket.on('error', () => undefined);
    sockets.push(socket);
    socket.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
    // Everything but the last byte, then silence.
    for (let sent = 0; sent < bodyBytes - 1; sent += chunk.length) socket.write(chunk.subarray(0, Math.min(chunk.length, bodyBytes - 1 - sent)));
  }
  const samples: Array<[number, number]> = [];
  const started = Date.now();
  while (Date.now() - started < 35_000) {
    const rss = rssMiB(server.pid);
    peak = Math.max(peak, rss);
    samples.push([Math.round((Date.now() - started) / 1000), rss]);
    await sleep(1_000);
  }
  const open_ = sockets.filter((s) => !s.destroyed).length;
  console.log(JSON.stringify({ scenario: 'stalled bodies', bodies: STALLED_BODIES, bodyBytes, baselineRssMiB: baseline, peakRssMiB: peak, rssBySecond: samples.filter(([s]) => s % 5 === 0), stillOpenAfter35s: open_ }));
  for (const socket of sockets) socket.destroy();
  server.stop();
}

const scenario = process.env.SCENARIO ?? 'idle';
const extra = (process.env.SERVER_ARGS ?? '').split(' ').filter(Boolean);
await (scenario === 'idle' ? idle(extra) : stalled(extra));
