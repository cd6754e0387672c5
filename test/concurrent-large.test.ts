// Issue 10: 16 concurrent 2.8 MiB VirtualServices, each waiting for the
// direct read before a missing-subset denial, ran the shipped 192 MB heap
// out (each kept its parsed object and problem list). SPEC §6 wants 32
// concurrent 3 MiB reviews to survive. The real server, as a child process
// with the shipped --max-old-space-size=192, against the fake API server
// with latency on the direct read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureConcurrentLargeReviews } from '../bench/concurrent-large.js';

describe('32 concurrent 3 MiB reviews at the shipped heap cap', { skip: process.platform !== 'linux' && 'peak RSS comes from /proc' }, () => {
  it('answers every one with the missing-subset denial, stays up, and then answers a small review', async () => {
    const result = await measureConcurrentLargeReviews({
      concurrent: 32,
      bodyBytes: 3 * 1024 * 1024 - 16 * 1024,
      heapCapMiB: 192,
      readLatencyMs: 1_500,
      answerTimeoutMs: 600_000,
      // The test machine's CPU is shared: give slow uploads time, the verdicts are what is asserted here.
      serverArgs: ['--request-timeout-ms', '300000', '--body-idle-timeout-ms', '300000', '--headers-timeout-ms', '120000'],
    });
    assert.equal(result.stderr.includes('heap out of memory'), false, result.stderr.slice(-1_000));
    assert.equal(result.survived, true, `the server died or stopped answering: ${result.stderr.slice(-1_000)}`);
    assert.ok(result.bodyBytes > 3 * 1024 * 1024 - 32 * 1024 && result.bodyBytes <= 3 * 1024 * 1024);
    assert.equal(result.answers.length, 32);
    for (const answer of result.answers) {
      assert.equal(answer.status, 200, JSON.stringify(answer));
      assert.equal(answer.allowed, false);
      assert.match(answer.message ?? '', /^spec\.http\[0\]\.route\[0\]: subset "missing" of host reviews\.shop\.svc\.cluster\.local is not defined; DestinationRule shop\/reviews defines v1$/);
    }
    assert.deepEqual(result.smallReview, { status: 200, allowed: true });
    // Reported, not asserted (no timing or size assertions in tests): see docs/failure-and-bounds.md.
    process.stdout.write(`# peak RSS ${result.peakRssMiB} MiB for ${result.concurrent} x ${result.bodyBytes} bytes\n`);
  });
});
