// Starts the real server (standalone mode, generated dev certificates) on a free port.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseServeConfig } from '../../src/config.js';
import { startWithConfig, type StartedServer } from '../../src/server/start.js';

export interface Standalone { started: StartedServer; baseUrl: string; ca: Buffer; certDir: string }

export async function startStandalone(extraArgs: string[] = []): Promise<Standalone> {
  const certDir = mkdtempSync(join(tmpdir(), 'canary-webhook-certs-'));
  const config = parseServeConfig(['--standalone', '--port', '0', '--bind-address', '127.0.0.1', '--cert-dir', certDir, ...extraArgs], {});
  const started = await startWithConfig(config, pino({ level: 'silent' }));
  return { started, baseUrl: `https://127.0.0.1:${started.running.port}`, ca: readFileSync(join(certDir, 'ca.crt')), certDir };
}
