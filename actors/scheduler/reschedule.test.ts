import { describe, expect, test } from 'bun:test';
import { compute } from './compute.ts';
import { decideReschedule } from './reschedule.ts';
import { makeContext, makeJob, makeNode, SchedHarness } from './test-harness.ts';
import type { ReschedulePolicy, SchedAllocation } from './types.ts';

const policy = (over: Partial<ReschedulePolicy> = {}): ReschedulePolicy => ({
  attempts: 0,
  intervalMs: 0,
  delayMs: 30_000,
  maxDelayMs: 3_600_000,
  unlimited: true,
  ...over,
});

function alloc(id: string, over: Partial<SchedAllocation> = {}): SchedAllocation {
  return {
    id,
    jobId: 'web',
    jobVersion: 1,
    nodeId: 'n1',
    name: 'web.web[0]',
    index: 0,
    resources: { cpuMhz: 100, memoryMb: 128 },
    ports: {},
    desiredStatus: 'run',
    clientStatus: 'failed',
    ...over,
  };
}

/** A stopped failed allocation of slot 0: an earlier reschedule at `atMs`. */
const earlier = (id: string, atMs: number, over: Partial<SchedAllocation> = {}) =>
  alloc(id, { desiredStatus: 'stop', modifiedAtMs: atMs, ...over });

describe('decideReschedule', () => {
  test('the first failure waits delayMs from the failure time', () => {
    // Proves the base delay is counted from modifiedAtMs and compared with nowMs.
    const failed = alloc('a', { modifiedAtMs: 1_000 });
    expect(decideReschedule(policy(), failed, [failed], 30_999)).toEqual({
      kind: 'later',
      eligibleAtMs: 31_000,
    });
    expect(decideReschedule(policy(), failed, [failed], 31_000)).toEqual({ kind: 'now' });
  });

  test('the delay doubles per earlier reschedule of the slot and stops at maxDelayMs', () => {
    // Proves exponential backoff from the slot history, capped by maxDelayMs.
    const p = policy({ delayMs: 10_000, maxDelayMs: 35_000 });
    const failed = alloc('c', { modifiedAtMs: 100_000 });
    const one = [earlier('a', 90_000), failed];
    expect(decideReschedule(p, failed, one, 0)).toEqual({ kind: 'later', eligibleAtMs: 120_000 });
    const two = [earlier('a', 80_000), earlier('b', 90_000), failed];
    expect(decideReschedule(p, failed, two, 0)).toEqual({ kind: 'later', eligibleAtMs: 135_000 });
  });

  test('history of other slots, other versions and non-failed stops does not count', () => {
    // Proves only the same slot and job version's failed-and-stopped allocations count.
    const failed = alloc('x', { modifiedAtMs: 100_000 });
    const history = [
      earlier('a', 90_000, { index: 1, name: 'web.web[1]' }),
      earlier('b', 90_000, { jobVersion: 2 }),
      earlier('c', 90_000, { clientStatus: 'lost' }),
      alloc('d', { clientStatus: 'healthy', modifiedAtMs: 90_000 }),
      earlier('e', 100_001),
      failed,
    ];
    expect(decideReschedule(policy(), failed, history, 0)).toEqual({
      kind: 'later',
      eligibleAtMs: 130_000,
    });
  });

  test('attempts are spent within the interval; older reschedules fall out of it', () => {
    // Proves the attempts budget, its window, and that the decision is taken at failure time.
    const p = policy({ unlimited: false, attempts: 2, intervalMs: 60_000, delayMs: 0 });
    const failed = alloc('c', { modifiedAtMs: 100_000 });
    const inWindow = [earlier('a', 50_000), earlier('b', 90_000), failed];
    expect(decideReschedule(p, failed, inWindow, 10_000_000)).toEqual({ kind: 'exhausted' });
    const oneOld = [earlier('a', 30_000), earlier('b', 90_000), failed];
    expect(decideReschedule(p, failed, oneOld, 100_000)).toEqual({ kind: 'now' });
  });

  test('zero attempts never reschedules; interval 0 counts the whole history', () => {
    // Proves attempts 0 means "never" and an unset window covers every earlier reschedule.
    const failed = alloc('b', { modifiedAtMs: 10_000_000 });
    const none = policy({ unlimited: false, attempts: 0, delayMs: 0 });
    expect(decideReschedule(none, failed, [failed], 20_000_000)).toEqual({ kind: 'exhausted' });
    const one = policy({ unlimited: false, attempts: 1, delayMs: 0 });
    expect(decideReschedule(one, failed, [failed], 10_000_000)).toEqual({ kind: 'now' });
    expect(decideReschedule(one, failed, [earlier('a', 1), failed], 20_000_000)).toEqual({
      kind: 'exhausted',
    });
  });

  test('unlimited with no interval resets the delay after a run longer than maxDelayMs', () => {
    // Proves the doubling window falls back to maxDelayMs, so a long healthy run starts over.
    const p = policy({ delayMs: 1_000, maxDelayMs: 10_000 });
    const failed = alloc('b', { modifiedAtMs: 100_000 });
    const recent = [earlier('a', 95_000), failed];
    expect(decideReschedule(p, failed, recent, 0)).toEqual({
      kind: 'later',
      eligibleAtMs: 102_000,
    });
    const old = [earlier('a', 50_000), failed];
    expect(decideReschedule(p, failed, old, 0)).toEqual({ kind: 'later', eligibleAtMs: 101_000 });
  });
});

describe('compute with a reschedule policy', () => {
  function failedJob(resched: ReschedulePolicy) {
    const h = new SchedHarness([makeNode('n1'), makeNode('n2')]);
    h.upsertJob(makeJob('web', { count: 2, reschedule: resched }));
    h.nowMs = 1_000;
    h.evaluate('web');
    h.markHealthy('web');
    const victim = h.live('web').find((a) => a.index === 0)!;
    h.nowMs = 5_000;
    h.setStatus(victim.id, 'failed');
    return { h, victim };
  }

  test('a failed allocation is held until its delay passes, then replaced in its slot', () => {
    // Proves no stop and no placement before eligibleAtMs, the held report, then replacement.
    const { h, victim } = failedJob(policy({ delayMs: 30_000 }));
    h.nowMs = 20_000;
    const early = h.evaluate('web', 'alloc-failure').plan;
    expect(early.place).toEqual([]);
    expect(early.stop).toEqual([]);
    expect(early.held).toEqual([
      { allocId: victim.id, index: 0, reason: 'reschedule_delay', eligibleAtMs: 35_000 },
    ]);
    h.nowMs = 35_000;
    const due = h.evaluate('web', 'alloc-failure').plan;
    expect(due.held).toBeUndefined();
    expect(due.stop).toEqual([{ id: victim.id, nodeId: victim.nodeId, reason: 'alloc_failed' }]);
    expect(due.place.map((p) => [p.index, p.replaces])).toEqual([[0, victim.id]]);
  });

  test('the next failure of the replacement waits twice as long; spent attempts hold for good', () => {
    // Proves the slot history drives the doubling and the attempts limit across plans.
    const { h } = failedJob(policy({ unlimited: false, attempts: 2, intervalMs: 3_600_000 }));
    h.nowMs = 35_000;
    h.evaluate('web');
    const second = h.live('web').find((a) => a.index === 0)!;
    h.nowMs = 40_000;
    h.setStatus(second.id, 'failed');
    const wait = h.evaluate('web').plan;
    expect(wait.held?.[0]?.eligibleAtMs).toBe(100_000);
    h.nowMs = 100_000;
    expect(h.evaluate('web').plan.place.map((p) => p.replaces)).toEqual([second.id]);
    const third = h.live('web').find((a) => a.index === 0)!;
    h.setStatus(third.id, 'failed');
    h.nowMs = 10_000_000;
    const spent = h.evaluate('web').plan;
    expect(spent.place).toEqual([]);
    expect(spent.stop).toEqual([]);
    expect(spent.held).toEqual([{ allocId: third.id, index: 0, reason: 'reschedule_exhausted' }]);
    expect(h.live('web').map((a) => a.index)).toEqual([1]);
  });

  test('lost allocations are replaced at once whatever the policy', () => {
    // Proves the reschedule block does not apply to allocations on a down node.
    const h = new SchedHarness([makeNode('n1'), makeNode('n2')]);
    h.upsertJob(makeJob('web', { count: 1, reschedule: policy({ unlimited: false }) }));
    h.evaluate('web');
    const first = h.live('web')[0]!;
    h.setNode(first.nodeId, { status: 'down' });
    const plan = h.evaluate('web', 'node-update').plan;
    expect(plan.stop.map((s) => [s.id, s.reason])).toEqual([[first.id, 'node_lost']]);
    expect(plan.place.map((p) => p.replaces)).toEqual([first.id]);
    expect(plan.held).toBeUndefined();
  });

  test('a failed allocation of an older version is replaced at once', () => {
    // Proves the policy guards only the current version; an update replaces old failures.
    const { h, victim } = failedJob(policy({ unlimited: false }));
    h.upsertJob(makeJob('web', { count: 2, version: 2, reschedule: policy({ unlimited: false }) }));
    const plan = h.evaluate('web', 'job-register').plan;
    expect(plan.stop.map((s) => s.id)).toContain(victim.id);
    expect(plan.place.map((p) => p.index)).toContain(0);
  });

  test('a job with a policy needs nowMs in the context', () => {
    // Proves the missing clock input is caught as a programmer error, not guessed.
    const { h } = failedJob(policy());
    const evaluation = { id: 'e', jobId: 'web', triggeredBy: 'periodic' } as const;
    expect(() => compute(h.snapshot, evaluation, makeContext('e'))).toThrow('nowMs');
  });
});
