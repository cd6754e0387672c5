// `--guard=deny|warn|off` (SPEC §9): read once in config.ts, default deny.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseServeConfig } from '../src/config.js';

describe('--guard', () => {
  it('defaults to deny and takes the flag or CANARY_WEBHOOK_GUARD', () => {
    assert.equal(parseServeConfig([], {}).guardMode, 'deny');
    assert.equal(parseServeConfig(['--guard', 'warn'], {}).guardMode, 'warn');
    assert.equal(parseServeConfig(['--guard=off'], {}).guardMode, 'off');
    assert.equal(parseServeConfig([], { CANARY_WEBHOOK_GUARD: 'warn' }).guardMode, 'warn');
  });

  it('refuses anything else with the allowed values', () => {
    assert.throws(() => parseServeConfig(['--guard', 'audit'], {}), (error: unknown) => error instanceof ConfigError && /--guard must be one of deny, warn, off, got "audit"/.test(error.message));
  });
});
