// Every command the README shows is run or checked here, so the README cannot
// drift from what the code does:
// - ```console blocks: each `$ command` is run with bash from the repository
//   root and its stdout compared with the lines under it (`$ echo $?` compares
//   the previous exit code). `node bin/canary-webhook.js` runs the same CLI
//   from source (bin/ only imports the build of src/cli/main.ts, checked
//   below); `curl … https://localhost:8443` goes to a standalone server
//   started exactly as `npm start` starts it (package.json), on a free port.
// - ```sh blocks and inline `code` that starts with a command: cluster-side
//   commands cannot run here, so their inputs are checked (make targets
//   exist, kustomize directories render, applied files are Kubernetes
//   objects, the namespace label is the one the webhooks select on).
// - the GitHub Actions job's `npm exec --offline --prefix` step is run
//   against this checkout's build (dist/, which `npm ci` produces).
// A command that fits none of these fails the test: cover it here first.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { parseAllDocuments } from 'yaml';
import { parseServeConfig, serveFlags } from '../src/config.js';
import { startWithConfig, type StartedServer } from '../src/server/start.js';
import { renderKustomization } from './support/kustomize.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const cliFromSource = `${process.execPath} --import tsx ${join(repo, 'src/cli/main.ts')}`;

interface Block { lang: string; body: string; line: number }

function blocks(markdown: string): Block[] {
  const found: Block[] = [];
  for (const match of markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    found.push({ lang: match[1] ?? '', body: match[2] ?? '', line: markdown.slice(0, match.index).split('\n').length });
  }
  return found;
}

/** `$ cmd` lines of a console block, each with the output lines under it. */
function sessions(block: Block): Array<{ command: string; expected: string }> {
  const steps: Array<{ command: string; expected: string[] }> = [];
  for (const line of block.body.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else steps.at(-1)?.expected.push(line);
  }
  return steps.map((step) => ({ command: step.command, expected: step.expected.map((line) => `${line}\n`).join('') }));
}

/** Commands of a sh block: comments dropped, continuations joined. */
function shellCommands(block: Block): string[] {
  return block.body.replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

const commandWords = /^(node|npm|npx|make|kubectl|docker|kind|curl) /;
/** Inline `code` in prose that is a command (outside code blocks). */
function inlineCommands(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!).filter((code) => commandWords.test(code));
}

function run(command: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd: repo, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const makeTargets = new Set([...readFileSync(join(repo, 'Makefile'), 'utf8').matchAll(/^([a-z-]+):/gm)].map((match) => match[1]!));

/** Checks a command that needs a cluster, a registry or a long-running server: its inputs, not its effect. */
async function checkClusterCommand(command: string): Promise<void> {
  if (command === 'npm ci && npm start' || command === 'npm start') {
    const scripts = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.start ?? '', /serve --standalone --seed-dir examples\/seed$/, 'npm start serves standalone (the walkthrough below runs it)');
    return;
  }
  if (command === 'npm ci && npm test' || command === 'npm test') {
    assert.match(readFileSync(join(repo, '.ci/run'), 'utf8'), /^npm ci\b[\s\S]*^npm test$/m, '.ci/run runs it');
    return;
  }
  let match = /^npm run ([\w:-]+)$/.exec(command);
  // A benchmark runs for minutes on a quiet machine: the script must exist.
  if (match) return void assert.ok(match[1]! in (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts, `npm script ${match[1]}`);
  match = /^make ([a-z-]+)/.exec(command);
  if (match) return void assert.ok(makeTargets.has(match[1]!), `make target ${match[1]}`);
  match = /^kubectl apply -k (\S+)$/.exec(command);
  if (match) {
    const manifests = await renderKustomization(join(repo, match[1]!));
    return void assert.ok(manifests.length > 0, `${match[1]} renders`);
  }
  if (/^kubectl apply -f -$/.test(command)) return;
  if (/^kubectl apply( -f \S+)+$/.test(command)) {
    for (const file of command.split(' -f ').slice(1)) {
      const documents = parseAllDocuments(readFileSync(join(repo, file), 'utf8')).map((document) => document.toJS() as { apiVersion?: unknown; kind?: unknown });
      assert.ok(documents.every((document) => typeof document.apiVersion === 'string' && typeof document.kind === 'string'), `${file} holds Kubernetes objects`);
    }
    return;
  }
  match = /^kubectl label namespace \S+ ([^=\s]+)=(\S+)$/.exec(command);
  if (match) {
    const webhooks = readFileSync(join(repo, 'deploy/base/webhooks.yaml'), 'utf8');
    assert.ok(webhooks.includes(`key: ${match[1]}`) && webhooks.includes(`["${match[2]}"]`), `the webhooks select on ${match[1]}=${match[2]}`);
    return;
  }
  if (/^kubectl (describe|get|logs) /.test(command)) return;
  if (/^(docker (build|run|push)|kind load docker-image) /.test(command)) return void assert.ok(existsSync(join(repo, 'Dockerfile')));
  assert.fail(`README command not covered by test/readme.test.ts: ${command}`);
}

describe('README', () => {
  it('stays short, starts with the two commands, and links every doc that exists', () => {
    // A page a reader finishes: the two commands, what it does, deploy, configuration, offline, bounds; the rest is in docs/.
    assert.ok(readme.split('\n').length <= 275, `${readme.split('\n').length} lines`);
    assert.equal(shellCommands(blocks(readme)[0]!).join('\n'), 'npm ci && npm start\nnpm ci && npm test');
    for (const match of readme.matchAll(/\]\((docs\/[\w-]+\.md)(#[\w-]+)?\)/g)) {
      const doc = match[1]!;
      // Other branches' docs are linked ahead of landing; ours must exist.
      if (['docs/operations.md', 'docs/security.md', 'docs/performance.md', 'docs/design.md'].includes(doc)) assert.ok(existsSync(join(repo, doc)), doc);
    }
  });

  it('never shows npx: outside a checkout it runs whatever the registry has under that name', () => {
    const code = [...blocks(readme).map((block) => block.body), ...[...readme.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!)];
    assert.deepEqual(code.filter((text) => /(^|\s)npx\s/m.test(text)), []);
  });

  it('names only flags and environment variables serve has', () => {
    for (const match of readme.matchAll(/`(--[a-z-]+)`/g)) {
      const flag = match[1]!.slice(2);
      if (['strict', 'cluster', 'with', 'offline', 'prefix'].includes(flag)) continue; // check/inject and npm flags
      assert.ok(flag in serveFlags, `--${flag}`);
    }
    const envs = new Set(Object.values(serveFlags).map((spec) => spec.env));
    for (const match of readme.matchAll(/`(CANARY_WEBHOOK_[A-Z_]+)`/g)) assert.ok(envs.has(match[1]!), match[1]);
  });

  it('runs bin/canary-webhook.js as the build of src/cli/main.ts', () => {
    assert.match(readFileSync(join(repo, 'bin/canary-webhook.js'), 'utf8'), /import '\.\.\/dist\/src\/cli\/main\.js';/);
  });

  describe('console sessions', () => {
    let server: StartedServer;
    let certDir: string;
    before(async () => {
      certDir = mkdtempSync(join(tmpdir(), 'canary-webhook-readme-'));
      const scripts = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
      const startArgs = (/serve (.*)$/.exec(scripts.start ?? '')?.[1] ?? '').split(' ');
      const config = parseServeConfig([...startArgs, '--port', '0', '--bind-address', '127.0.0.1', '--cert-dir', certDir], {});
      server = await startWithConfig({ ...config, seedDir: join(repo, config.seedDir ?? '') }, pino({ level: 'silent' }));
    });
    after(async () => {
      await server.shutdown();
      rmSync(certDir, { recursive: true, force: true });
    });

    it('prints what the README says, in order', async () => {
      const consoleBlocks = blocks(readme).filter((block) => block.lang === 'console');
      assert.ok(consoleBlocks.length >= 4);
      let ran = 0;
      for (const block of consoleBlocks) {
        let last: { code: number } | undefined;
        for (const { command, expected } of sessions(block)) {
          const where = `README.md:${block.line}: ${command}`;
          if (command === 'echo $?') {
            assert.equal(`${last?.code}\n`, expected, where);
            continue;
          }
          const local = command
            .replaceAll('node bin/canary-webhook.js', cliFromSource)
            .replaceAll('https://localhost:8443', `https://localhost:${server.running.port}`)
            .replaceAll('--cacert certs/ca.crt', `--cacert ${join(certDir, 'ca.crt')}`);
          assert.ok(local !== command, `${where}: not a command this test knows how to run`);
          const result = await run(local);
          last = result;
          ran++;
          // curl prints no final newline; a terminal shows the prompt on the next line anyway.
          const shown = result.stdout === '' || result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`;
          assert.equal(shown, expected, `${where}\n${result.stderr}`);
        }
      }
      assert.ok(ran >= 8, `${ran} commands run`);
    });

    it('covers every other command it shows', async () => {
      const commands = [
        ...blocks(readme).filter((block) => block.lang === 'sh').flatMap(shellCommands),
        ...inlineCommands(readme),
      ];
      assert.ok(commands.length >= 8);
      for (const command of commands) {
        if (/^node bin\/canary-webhook\.js /.test(command)) {
          const result = await run(command.replace('node bin/canary-webhook.js', cliFromSource));
          assert.equal(result.code, 0, `${command}\n${result.stderr}`);
          continue;
        }
        await checkClusterCommand(command);
      }
    });

    it('runs the GitHub Actions step against this checkout', async (t) => {
      const workflow = blocks(readme).find((block) => block.lang === 'yaml' && block.body.includes('runs-on:'));
      assert.ok(workflow);
      const steps = [...workflow.body.matchAll(/- run: (.*)$/gm)].map((match) => match[1]!);
      assert.deepEqual(steps.map((step) => step.split(' -- ')[0]), ['npm ci --prefix .canary-webhook', 'npm exec --offline --prefix .canary-webhook canary-webhook']);
      if (!existsSync(join(repo, 'dist/src/cli/main.js'))) return void t.skip('no build in dist/ (npm ci or npm run build makes it)');
      // The step checks the workflow's repository; here, a copy of examples/ stands in for it.
      const work = mkdtempSync(join(tmpdir(), 'canary-webhook-readme-ci-'));
      try {
        await promisify(execFile)('cp', ['-r', join(repo, 'examples/seed'), join(repo, 'examples/manifests'), work]);
        const step = steps[1]!.replace('--prefix .canary-webhook', `--prefix ${repo}`);
        const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
          execFile('bash', ['-c', step], { cwd: work }, (error, stdout) => resolve({ code: error ? Number((error as { code?: unknown }).code) : 0, stdout }));
        });
        assert.equal(result.code, 1, 'the examples hold two bad VirtualServices');
        assert.match(result.stdout, /^::error file=manifests\/90-bad-weights-90-5\.yaml,line=11,col=5,/m);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  });
});
