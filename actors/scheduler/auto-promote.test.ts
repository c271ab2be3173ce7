import { describe, expect, test } from 'bun:test';
import {
  type AutoPromoteAllocation,
  type AutoPromoteSpec,
  shouldAutoPromote,
} from './auto-promote.ts';

const spec = (over: Partial<AutoPromoteSpec['update']> = {}): AutoPromoteSpec => ({
  count: 3,
  update: { canary: 2, autoPromote: true, minHealthyTimeMs: 10_000, ...over },
});
const running = { jobVersion: 2, status: 'running', promoted: false };

function canary(over: Partial<AutoPromoteAllocation> = {}): AutoPromoteAllocation {
  return {
    jobVersion: 2,
    desiredStatus: 'run',
    clientStatus: 'healthy',
    modifiedAtMs: 1_000,
    ...over,
  };
}
const oldVersion = canary({ jobVersion: 1, clientStatus: 'running' });

describe('shouldAutoPromote', () => {
  test('promotes once every canary has been healthy for min_healthy_time', () => {
    // Proves the time threshold is inclusive and measured from each canary's last change.
    const allocs = [canary(), canary({ modifiedAtMs: 2_000 }), oldVersion];
    expect(shouldAutoPromote(spec(), running, allocs, 11_999)).toBe(false);
    expect(shouldAutoPromote(spec(), running, allocs, 12_000)).toBe(true);
  });

  test('waits until all canaries are placed and none is unhealthy or failed', () => {
    // Proves missing, pending and failed canaries each keep the deployment unpromoted.
    const late = 1_000_000;
    expect(shouldAutoPromote(spec(), running, [canary(), oldVersion], late)).toBe(false);
    for (const clientStatus of ['pending', 'running', 'unhealthy', 'failed']) {
      const allocs = [canary(), canary({ clientStatus })];
      expect(shouldAutoPromote(spec(), running, allocs, late)).toBe(false);
    }
    const stopped = [canary(), canary({ desiredStatus: 'stop' })];
    expect(shouldAutoPromote(spec(), running, stopped, late)).toBe(false);
  });

  test('never promotes without auto_promote, canaries, or a running unpromoted deployment', () => {
    // Proves every guard: the flag, canary 0, terminal or already promoted deployments.
    const allocs = [canary(), canary()];
    const late = 1_000_000;
    expect(shouldAutoPromote(spec({ autoPromote: false }), running, allocs, late)).toBe(false);
    expect(shouldAutoPromote(spec({ canary: 0 }), running, allocs, late)).toBe(false);
    for (const d of [
      { ...running, promoted: true },
      { ...running, status: 'failed' },
      { ...running, status: 'paused' },
    ]) {
      expect(shouldAutoPromote(spec(), d, allocs, late)).toBe(false);
    }
    expect(shouldAutoPromote(spec(), running, allocs, late)).toBe(true);
  });

  test('a canary count above the job count waits for count allocations only', () => {
    // Proves the wanted canaries are capped by the job count.
    const small = { ...spec({ canary: 5 }), count: 1 };
    expect(shouldAutoPromote(small, running, [canary()], 1_000_000)).toBe(true);
  });
});
