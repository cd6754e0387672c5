// `check` on N canary Deployments of one service with `--max-subsets` above N:
// every Deployment adds a subset to the same companion rule, so the planner
// sees a rule of 1, 2, … N subsets. Cost per Deployment against N says how the
// whole run grows (a flat column is linear; a column that doubles with N is
// quadratic). `npx tsx bench/check-canaries.ts` prints the table.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { runCheck } from '../src/cli/check.js';

function input(count: number): string {
  const documents = Array.from({ length: count }, (_, i) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v${i}
  namespace: shop
  labels: {app: reviews, canary-webhook/enabled: "true"}
spec:
  selector: {matchLabels: {app: reviews}}
  template:
    metadata: {labels: {app: reviews, version: v${i}}}
    spec: {containers: [{name: reviews, image: "example.com/reviews:1.0.0"}]}
`);
  return documents.join('---\n');
}

async function timeCheck(file: string, maxSubsets: number): Promise<number> {
  const started = performance.now();
  const code = await runCheck(['-f', file, '--max-subsets', String(maxSubsets)], {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin: Readable.from([]),
    cwd: tmpdir(),
    env: {},
  });
  if (code !== 0) throw new Error(`check exited ${code}`);
  return performance.now() - started;
}

const root = mkdtempSync(join(tmpdir(), 'cw-bench-canaries-'));
const sizes = [500, 1_000, 2_000, 4_000];
const rows: Array<{ count: number; totalMs: number; perCanaryUs: number }> = [];
for (const count of sizes) {
  const file = join(root, `canaries-${count}.yaml`);
  writeFileSync(file, input(count));
  await timeCheck(file, 10_000); // warm-up: parser and planner compiled before the timed run
  const totalMs = Math.min(await timeCheck(file, 10_000), await timeCheck(file, 10_000));
  rows.push({ count, totalMs, perCanaryUs: (totalMs * 1_000) / count });
}
const base = rows[0]!.perCanaryUs;
console.log('| canaries of one service | check total (ms) | per canary (µs) | ratio to 500 |');
console.log('|---:|---:|---:|---:|');
for (const row of rows) {
  console.log(`| ${row.count.toLocaleString('en-US')} | ${row.totalMs.toFixed(0)} | ${row.perCanaryUs.toFixed(0)} | ${(row.perCanaryUs / base).toFixed(2)} |`);
}
