import { describe, expect, test } from 'bun:test';
import { SimClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { holdWhileLeaderless } from './hold.ts';
import { advanceClock, createHarness, driveClock, errorCode, sampleJob } from './test-harness.ts';

describe('writes during an election', () => {
  test('a write that meets not_leader is held and commits once a leader is back', async () => {
    // Proves DESIGN.md §5: writes reaching the node during an election are held, not failed.
    const h = await createHarness();
    h.service.setLeaderless(true);
    const before = h.commitIndex();
    const pending = h.call('POST', '/v1/jobs', { body: sampleJob });
    // Two simulated seconds pass with no leader: the request must still be waiting.
    let settled = false;
    pending.then(() => {
      settled = true;
    });
    await advanceClock(h.clock, 2_000, 25);
    expect(settled).toBe(false);
    expect(h.commitIndex()).toBe(before);
    h.service.setLeaderless(false);
    const res = await driveClock(h.clock, pending, { stepMs: 25, maxMs: 1_000 });
    expect(res.status).toBe(200);
    expect(h.commitIndex()).toBe(before + 1);
  });

  test('after the hold (default 5 s) the write fails 503 no_leader with Retry-After', async () => {
    // Proves the hold is bounded and that nothing was written.
    const h = await createHarness();
    h.service.setLeaderless(true);
    const before = h.commitIndex();
    const startMs = h.clock.nowMs();
    const res = await driveClock(h.clock, h.call('POST', '/v1/jobs', { body: sampleJob }), {
      stepMs: 50,
      maxMs: 10_000,
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await errorCode(res)).toBe('no_leader');
    const heldMs = h.clock.nowMs() - startMs;
    expect(heldMs).toBeGreaterThanOrEqual(5_000);
    expect(heldMs).toBeLessThan(5_200);
    expect(h.commitIndex()).toBe(before);
  });

  test('the hold is configurable', async () => {
    // Proves ApiLimits.leaderHoldMs bounds the hold (simulated time, not wall time).
    const h = await createHarness({ limits: { leaderHoldMs: 300 } });
    h.service.setLeaderless(true);
    const startMs = h.clock.nowMs();
    const res = await driveClock(h.clock, h.call('DELETE', '/v1/jobs/web'), {
      stepMs: 25,
      maxMs: 2_000,
    });
    expect(res.status).toBe(503);
    expect(await errorCode(res)).toBe('no_leader');
    expect(h.clock.nowMs() - startMs).toBeLessThan(400);
  });

  test('linearizable reads are held too; stale reads are served at once', async () => {
    // Proves the read barrier goes through the same hold, and ?stale=true skips it.
    const h = await createHarness({ limits: { leaderHoldMs: 200 } });
    await h.call('POST', '/v1/jobs', { body: sampleJob });
    h.service.setLeaderless(true);
    const stale = await h.call('GET', '/v1/jobs/web?stale=true');
    expect(stale.status).toBe(200);
    const fresh = await driveClock(h.clock, h.call('GET', '/v1/jobs/web'), {
      stepMs: 25,
      maxMs: 1_000,
    });
    expect(fresh.status).toBe(503);
    expect(await errorCode(fresh)).toBe('no_leader');
  });

  test('proposal_dropped is 503 with Retry-After and is not retried', async () => {
    // Proves a full proposal queue is reported at once (retrying would add load).
    const h = await createHarness();
    h.service.dropProposals(1);
    const before = h.commitIndex();
    const res = await h.call('POST', '/v1/jobs', { body: sampleJob });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await errorCode(res)).toBe('proposal_dropped');
    expect(h.commitIndex()).toBe(before);
    const retry = await h.call('POST', '/v1/jobs', { body: sampleJob });
    expect(retry.status).toBe(200);
  });
});

describe('holdWhileLeaderless', () => {
  test('passes other errors through untouched and does not retry them', async () => {
    // Proves only not_leader is retried; a timeout (outcome unknown) must not be re-sent.
    const clock = new SimClock();
    let attempts = 0;
    const failing = () => {
      attempts++;
      return Promise.reject(new BerthError('timeout', 'may still commit'));
    };
    const error = await holdWhileLeaderless(failing, { holdMs: 5_000, clock }).catch((e) => e);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe('timeout');
    expect(attempts).toBe(1);
  });

  test('backs off exponentially up to the cap', async () => {
    // Proves retry spacing grows (25, 50, 100, …) instead of hammering the service.
    const clock = new SimClock();
    const attemptTimes: number[] = [];
    const attempt = () => {
      attemptTimes.push(clock.nowMs());
      return Promise.reject(new BerthError('not_leader', 'election'));
    };
    const done = holdWhileLeaderless(attempt, { holdMs: 1_000, clock }).catch((e) => e);
    const error = await driveClock(clock, done, { stepMs: 5, maxMs: 2_000 });
    expect((error as BerthError).code).toBe('no_leader');
    const gaps = attemptTimes.slice(1).map((t, i) => t - attemptTimes[i]!);
    expect(gaps.slice(0, 4)).toEqual([25, 50, 100, 200]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(500);
  });
});
