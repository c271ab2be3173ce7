import { describe, expect, test } from 'bun:test';
import { SimClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import type { ReadBarrierOutcome } from './read-tracker.ts';
import { ReadTracker } from './read-tracker.ts';

/** Settles a barrier into a plain value so assertions read the index or the error code. */
function outcome(p: Promise<ReadBarrierOutcome>): Promise<string> {
  return p.then(
    (o) => `ok ${o.index}`,
    (e: BerthError) => e.code,
  );
}

/** Lets settled promises run their callbacks. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('ReadTracker', () => {
  test('barriers queued in one turn share one round and resolve only once their index is applied', async () => {
    // Proves the batching and the two waits of thesis §6.4: confirmation, then apply up to the read index.
    const t = new ReadTracker(new SimClock(), 10, 'n1.x.');
    const results: string[] = [];
    const a = outcome(t.wait(1000)).then((r) => results.push(`a ${r}`));
    const b = outcome(t.wait(1000)).then((r) => results.push(`b ${r}`));
    const id = t.takeQueued(3);
    expect(id).toBe('n1.x.1');
    expect(t.hasQueued()).toBe(false);
    t.confirmed([{ requestId: id, index: 7 }], 5);
    await flush();
    expect(results).toEqual([]); // confirmed, but the state machine is behind the read index
    expect(t.size()).toBe(2);
    t.applied(6);
    await flush();
    expect(results).toEqual([]);
    t.applied(7);
    await Promise.all([a, b]);
    expect(results.sort()).toEqual(['a ok 7', 'b ok 7']);
    expect(t.size()).toBe(0);
    expect(t.roundsConfirming()).toBe(0);
  });

  test('a barrier queued after a round was taken joins the next round, with its own request id', async () => {
    // Proves a read never reuses an index captured before it was invoked (linearizability).
    const t = new ReadTracker(new SimClock(), 10, 'p.');
    const a = outcome(t.wait(1000));
    const first = t.takeQueued(1);
    const b = outcome(t.wait(1000));
    const second = t.takeQueued(1);
    expect(second).not.toBe(first);
    t.confirmed([{ requestId: first, index: 4 }], 10);
    expect(await a).toBe('ok 4');
    t.confirmed([{ requestId: second, index: 9 }], 10);
    expect(await b).toBe('ok 9');
  });

  test('rounds from another term are rejected, rounds of the current term are kept', async () => {
    // Proves barriers learn at once that the core abandoned their round on a role or term change.
    const t = new ReadTracker(new SimClock(), 10, 'p.');
    const old = outcome(t.wait(1000));
    t.takeQueued(2);
    const current = outcome(t.wait(1000));
    const id = t.takeQueued(3);
    t.rejectConfirmingExcept(3, new BerthError('not_leader', 'lost'));
    expect(await old).toBe('not_leader');
    expect(t.roundsConfirming()).toBe(1);
    t.confirmed([{ requestId: id, index: 2 }], 2);
    expect(await current).toBe('ok 2');
    const gone = outcome(t.wait(1000));
    t.takeQueued(3);
    t.rejectConfirmingExcept(null, new BerthError('not_leader', 'follower now'));
    expect(await gone).toBe('not_leader');
  });

  test('a barrier times out on the injected clock in any stage, and a late confirmation is ignored', async () => {
    // Proves every wait is bounded (STYLE.md rule 7) and that a timed-out round leaves nothing behind.
    const clock = new SimClock();
    const t = new ReadTracker(clock, 10, 'p.');
    const queued = t.wait(100).catch((e: BerthError) => e);
    const confirming = t.wait(200).catch((e: BerthError) => e);
    clock.advance(50);
    const id = t.takeQueued(1); // takes both
    const applying = t.wait(300).catch((e: BerthError) => e);
    const id2 = t.takeQueued(1);
    t.confirmed([{ requestId: id2, index: 50 }], 10);
    clock.advance(50);
    const e1 = (await queued) as BerthError;
    expect(e1.code).toBe('timeout');
    expect(e1.details).toEqual({ stage: 'confirming' }); // it had been taken into a round
    clock.advance(100);
    expect(((await confirming) as BerthError).code).toBe('timeout');
    expect(t.roundsConfirming()).toBe(0); // all its barriers gave up: the round is forgotten
    clock.advance(149);
    expect(t.size()).toBe(1);
    clock.advance(1);
    const e3 = (await applying) as BerthError;
    expect(e3.code).toBe('timeout');
    expect(e3.details).toEqual({ stage: 'applying' });
    t.confirmed([{ requestId: id, index: 3 }], 100); // too late: ignored
    expect(t.size()).toBe(0);
  });

  test('the tracker is bounded, rejectQueued and rejectAll settle everything', async () => {
    // Proves the named bound on pending reads and that closing leaves no barrier hanging.
    const t = new ReadTracker(new SimClock(), 3, 'p.');
    const a = outcome(t.wait(1000));
    const id = t.takeQueued(1);
    const b = outcome(t.wait(1000));
    const c = outcome(t.wait(1000));
    expect(t.isFull()).toBe(true);
    expect(() => t.wait(1000)).toThrow();
    t.rejectQueued(new BerthError('not_leader', 'x'));
    expect(await b).toBe('not_leader');
    expect(await c).toBe('not_leader');
    const d = outcome(t.wait(1000));
    t.confirmed([{ requestId: id, index: 5 }], 1);
    t.rejectAll(new BerthError('host_closed', 'closed'));
    expect(await a).toBe('host_closed');
    expect(await d).toBe('host_closed');
    expect(t.size()).toBe(0);
    expect(t.roundsConfirming()).toBe(0);
  });
});
