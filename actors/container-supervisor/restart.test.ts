import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import type { SupervisorEffect } from './effects.ts';
import { actions, desiredAlloc, Harness, handleOf, ofType, proposals } from './test-harness.ts';
import type { DesiredAllocation } from './types.ts';

/** Ticks in 10 ms steps until a start effect appears; returns the time it took. */
function msUntilStart(h: Harness, limitMs = 60_000): number {
  const fromMs = h.nowMs;
  while (h.nowMs - fromMs < limitMs) {
    if (ofType(h.advance(10), 'start').length > 0) return h.nowMs - fromMs;
  }
  throw new Error(`no start within ${limitMs} ms`);
}

function exit(h: Harness, allocId: string, exitCode: number): SupervisorEffect[] {
  return h.send({ type: 'task_exited', allocId, exitCode, oom: false });
}

function started(h: Harness, allocId: string): SupervisorEffect[] {
  return h.send({ type: 'task_started', allocId, handle: handleOf(allocId) });
}

const restartPolicy = (over: Partial<DesiredAllocation['restart']>) => ({
  restart: { attempts: 3, intervalMs: 600_000, delayMs: 1_000, mode: 'fail' as const, ...over },
});

describe('container supervisor: restart policy', () => {
  test('an exit removes the task, reports it, and restarts after a doubling, jittered delay', () => {
    // Proves the restart backoff: delay, then 2×, then 4× the base, each plus at most 25 %
    // seeded jitter; the exited task is removed before the restart frees its name.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1', restartPolicy({})));
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const effects = exit(h, 'a1', 1);
      expect(actions(effects)[0]).toBe('remove task-a1');
      expect(ofType(effects, 'propose_status')[0]?.status).toBe('unhealthy');
      delays.push(msUntilStart(h));
      started(h, 'a1');
    }
    [1_000, 2_000, 4_000].forEach((baseMs, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(baseMs);
      expect(delays[i]).toBeLessThanOrEqual(baseMs * 1.25 + 10);
    });
  });

  test('the same seed gives the same restart delays; another seed differs', () => {
    // Proves jitter comes only from the seeded generator, so a run replays from its seed.
    const delaysFor = (seed: number) => {
      const h = new Harness({}, seed);
      h.startRunning(desiredAlloc('a1', restartPolicy({ delayMs: 10_000 })));
      exit(h, 'a1', 1);
      const waiting = h.state.allocs.get('a1')!.task;
      return waiting.phase === 'waiting' ? waiting.untilMs : -1;
    };
    expect(delaysFor(7)).toBe(delaysFor(7));
    const distinct = new Set([1, 2, 3, 4, 5].map(delaysFor));
    expect(distinct.size).toBeGreaterThan(1);
  });

  test('mode fail: once the attempts in the window are spent, the allocation fails once', () => {
    // Proves `attempts` restarts within `intervalMs`, then `failed` with the reason, and
    // that nothing starts or is proposed after that.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1', restartPolicy({ attempts: 2, delayMs: 0 })));
    for (let i = 0; i < 2; i++) {
      exit(h, 'a1', 1);
      msUntilStart(h);
      started(h, 'a1');
    }
    const last = exit(h, 'a1', 1);
    expect(proposals(last)).toEqual(['failed:restarts_exhausted']);
    expect(ofType(last, 'propose_status')[0]!.detail).toContain('exited with code 1');
    expect(actions(h.run(120_000, 1_000))).toEqual([]);
  });

  test('restarts older than the interval no longer count', () => {
    // Proves the window slides: with one attempt per 10 s, exits 20 s apart restart forever.
    const h = new Harness();
    h.startRunning(
      desiredAlloc('a1', restartPolicy({ attempts: 1, intervalMs: 10_000, delayMs: 0 })),
    );
    for (let i = 0; i < 5; i++) {
      exit(h, 'a1', 1);
      msUntilStart(h);
      started(h, 'a1');
      h.run(20_000, 1_000);
    }
    expect(h.state.allocs.get('a1')!.task.phase).toBe('running');
  });

  test('mode delay: once the attempts are spent, it waits for the window, then restarts', () => {
    // Proves `delay` mode never fails the allocation: it waits until the oldest restart
    // leaves the window, reporting `restart_delayed`.
    const h = new Harness();
    const policy = restartPolicy({ attempts: 1, intervalMs: 30_000, delayMs: 0, mode: 'delay' });
    h.startRunning(desiredAlloc('a1', policy));
    exit(h, 'a1', 1);
    msUntilStart(h);
    started(h, 'a1');
    h.advance(5_000);
    const spent = exit(h, 'a1', 1);
    expect(proposals(spent)).toEqual(['unhealthy:restart_delayed']);
    const waitedMs = msUntilStart(h);
    expect(waitedMs).toBeGreaterThanOrEqual(24_000);
    expect(waitedMs).toBeLessThanOrEqual(25_100);
    expect(proposals(started(h, 'a1'))).toEqual(['running:started']);
  });

  test('many exits within the crash-loop window mark the status detail crash_loop', () => {
    // Proves crash-loop detection: the fifth exit within a minute is reported once with
    // reason crash_loop and a detail that says so; a calm task never is.
    const h = new Harness({ crashLoopExits: 5, crashLoopWindowMs: 60_000 });
    h.startRunning(desiredAlloc('a1', restartPolicy({ attempts: 100, delayMs: 0 })));
    const reasons: string[] = [];
    for (let i = 0; i < 6; i++) {
      const effects = exit(h, 'a1', 2);
      reasons.push(...ofType(effects, 'propose_status').map((p) => p.reason));
      const loop = ofType(effects, 'propose_status').find((p) => p.reason === 'crash_loop');
      if (loop) expect(loop.detail).toContain('crash_loop: 5 exits within 60s');
      msUntilStart(h);
      started(h, 'a1');
    }
    expect(reasons).toEqual([
      'restarting',
      'restarting',
      'restarting',
      'restarting',
      'crash_loop',
      'crash_loop',
    ]);
    const calm = new Harness({ crashLoopExits: 5, crashLoopWindowMs: 60_000 });
    calm.startRunning(desiredAlloc('a1', restartPolicy({ attempts: 100, delayMs: 0 })));
    for (let i = 0; i < 6; i++) {
      const effects = exit(calm, 'a1', 2);
      expect(ofType(effects, 'propose_status').map((p) => p.reason)).toEqual(['restarting']);
      msUntilStart(calm);
      started(calm, 'a1');
      calm.run(30_000, 1_000);
    }
  });

  test('a batch task that exits 0 is complete; non-zero and service exits restart', () => {
    // Proves the batch rule: exit 0 completes the allocation for good, while a failing
    // batch task and a service that exits 0 both go through the restart policy.
    const batch = new Harness();
    batch.startRunning(desiredAlloc('b1', { jobType: 'batch', check: undefined }));
    const done = exit(batch, 'b1', 0);
    expect(actions(done)).toEqual(['remove task-b1', 'propose b1 complete:exited_ok']);
    expect(actions(batch.run(60_000, 1_000))).toEqual([]);

    const failing = new Harness();
    failing.startRunning(desiredAlloc('b2', { jobType: 'batch', check: undefined }));
    expect(proposals(exit(failing, 'b2', 1))).toEqual(['unhealthy:restarting']);

    const oom = new Harness();
    oom.startRunning(desiredAlloc('b3', { jobType: 'batch', check: undefined }));
    const oomExit = oom.send({ type: 'task_exited', allocId: 'b3', exitCode: 0, oom: true });
    expect(proposals(oomExit)).toEqual(['unhealthy:restarting']);

    const service = new Harness();
    service.startRunning(desiredAlloc('s1'));
    expect(proposals(exit(service, 's1', 0))).toEqual(['unhealthy:restarting']);
  });

  test('port_in_use waits and retries with a clear detail, never failing the allocation', () => {
    // Proves DESIGN.md §5 "a port is stuck": the start is retried with a doubling wait up
    // to its cap, the detail is proposed once (status kept, not failed), and the next
    // successful start proceeds normally.
    const h = new Harness({ startWaitMs: 1_000, startWaitCapMs: 4_000 });
    h.desired(desiredAlloc('a1'));
    h.observed();
    const waits: number[] = [];
    const proposed: SupervisorEffect[] = [];
    for (let i = 0; i < 5; i++) {
      const refused = h.send({
        type: 'task_start_failed',
        allocId: 'a1',
        code: 'port_in_use',
        message: 'host port 20000 is in use',
      });
      proposed.push(...ofType(refused, 'propose_status'));
      waits.push(msUntilStart(h));
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 4_000, 4_000]);
    expect(proposals(proposed)).toEqual(['pending:port_in_use']);
    expect(ofType(proposed, 'propose_status')[0]!.detail).toContain('port_in_use: host port 20000');
    expect(proposals(started(h, 'a1'))).toEqual(['running:started']);
    expect(h.state.allocs.get('a1')!.startWaits).toBe(0);
  });

  test('name_conflict also waits; stuck starts fail only after the attempts limit', () => {
    // Proves the wait-and-retry loop is bounded by limits.supervisorStartWaitAttemptsMax.
    const h = new Harness({ startWaitMs: 1, startWaitCapMs: 1 });
    h.desired(desiredAlloc('a1'));
    h.observed();
    const all: SupervisorEffect[] = [];
    for (let i = 0; i <= limits.supervisorStartWaitAttemptsMax; i++) {
      all.push(
        ...h.send({
          type: 'task_start_failed',
          allocId: 'a1',
          code: 'name_conflict',
          message: 'taken',
        }),
      );
      all.push(...h.advance(1));
    }
    expect(proposals(all)).toEqual(['pending:name_conflict', 'failed:start_wait_exhausted']);
    expect(h.state.allocs.get('a1')!.task.phase).toBe('done');
  });

  test('invalid_task fails at once; other start errors go through the restart policy', () => {
    // Proves a start no retry can fix fails the allocation immediately, while a transient
    // driver error is retried like an exit.
    const bad = new Harness();
    bad.desired(desiredAlloc('a1'));
    bad.observed();
    const refused = bad.send({
      type: 'task_start_failed',
      allocId: 'a1',
      code: 'invalid_task',
      message: 'no',
    });
    expect(proposals(refused)).toEqual(['failed:start_failed']);

    const flaky = new Harness();
    flaky.desired(desiredAlloc('a1'));
    flaky.observed();
    const pull = flaky.send({
      type: 'task_start_failed',
      allocId: 'a1',
      code: 'image_pull_failed',
      message: 'registry timeout',
    });
    expect(proposals(pull)).toEqual(['unhealthy:restarting']);
    expect(msUntilStart(flaky)).toBeGreaterThanOrEqual(1_000);
  });
});
