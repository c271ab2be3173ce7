import { describe, expect, test } from 'bun:test';
import type { Entry } from '../../actors/leader-election/types.ts';
import { SimClock } from '../core/clock.ts';
import type { BerthError } from '../core/errors.ts';
import { ProposalTracker } from './proposal-tracker.ts';

function entry(index: number, term: number): Entry {
  return { index, term, kind: 'normal', data: '{}' };
}

/** Settles a promise into a plain value so assertions read the outcome or the error code. */
function outcome(p: Promise<{ index: number; term: number }>): Promise<string> {
  return p.then(
    (o) => `ok ${o.index}/${o.term}`,
    (e: BerthError) => e.code,
  );
}

describe('ProposalTracker', () => {
  test('resolves when its (index, term) applies and reports dropped when another term took the index', async () => {
    // Proves §5.3's rule: an index commits once, so a different term at that index means the proposal lost.
    const t = new ProposalTracker(new SimClock(), 10);
    const a = outcome(t.track(5, 2, 1000));
    const b = outcome(t.track(6, 2, 1000));
    t.applied([entry(5, 2), entry(6, 3)]);
    expect(await a).toBe('ok 5/2');
    expect(await b).toBe('proposal_dropped');
    expect(t.size()).toBe(0);
  });

  test('rejects with timeout on the injected clock, never on wall time', async () => {
    // Proves the bound on waiting: the timer runs on the Clock, so simulated time decides.
    const clock = new SimClock();
    const t = new ProposalTracker(clock, 10);
    const a = outcome(t.track(1, 1, 100));
    clock.advance(99);
    expect(t.size()).toBe(1);
    clock.advance(1);
    expect(await a).toBe('timeout');
    t.applied([entry(1, 1)]); // too late: nothing left to settle
    expect(t.size()).toBe(0);
  });

  test('an index reused by a newer term drops the older proposal; a snapshot makes outcomes unknown', async () => {
    // Proves no proposal is left hanging when its slot is reused or its entries vanish into a snapshot.
    const t = new ProposalTracker(new SimClock(), 10);
    const old = outcome(t.track(3, 1, 1000));
    const fresh = outcome(t.track(3, 2, 1000));
    expect(await old).toBe('proposal_dropped');
    const later = outcome(t.track(9, 2, 1000));
    t.coveredBySnapshot(5);
    expect(await fresh).toBe('timeout');
    expect(t.size()).toBe(1);
    t.applied([entry(9, 2)]);
    expect(await later).toBe('ok 9/2');
  });

  test('is bounded: it reports full at its limit', () => {
    // Proves the pending map has a named bound instead of growing without limit.
    const t = new ProposalTracker(new SimClock(), 2);
    void t.track(1, 1, 1000).catch(() => {});
    expect(t.isFull()).toBe(false);
    void t.track(2, 1, 1000).catch(() => {});
    expect(t.isFull()).toBe(true);
    expect(() => t.track(3, 1, 1000)).toThrow();
  });
});
