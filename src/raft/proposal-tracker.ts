/**
 * Proposals waiting for their entry to commit and apply on this node. A proposal is keyed
 * by the (index, term) the leader gave it: when index commits with that term the proposal
 * succeeded; when index commits with another term, a later leader overwrote it, so it was
 * dropped (Raft §5.3: an entry is committed at most once per index). A proposal whose
 * outcome cannot be learned in time is rejected with `timeout` — the caller must treat that
 * as "unknown", because the entry may still commit later.
 */
import type { Entry } from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';
import type { Clock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';

export interface ProposalOutcome {
  index: number;
  term: number;
}

interface Pending {
  term: number;
  resolve: (outcome: ProposalOutcome) => void;
  reject: (error: BerthError) => void;
  cancelTimer: () => void;
}

export class ProposalTracker {
  readonly #clock: Clock;
  readonly #pendingMax: number;
  readonly #pending = new Map<number, Pending>();

  constructor(clock: Clock, pendingMax: number) {
    assert(pendingMax >= 1, 'proposal tracker must allow one pending proposal');
    this.#clock = clock;
    this.#pendingMax = pendingMax;
  }

  size(): number {
    return this.#pending.size;
  }

  isFull(): boolean {
    return this.#pending.size >= this.#pendingMax;
  }

  /** Waits for (index, term) to be applied; rejects with `timeout` after `timeoutMs`. */
  track(index: number, term: number, timeoutMs: number): Promise<ProposalOutcome> {
    assert(!this.isFull(), 'track called while the tracker is full');
    // A new leader may reuse an index of an entry proposed in an older term here; the old
    // proposal lost its slot in the log, so it is dropped now rather than left to time out.
    this.#settle(index, (p) => p.reject(dropped(index, p.term, 'index reused by a later term')));
    return new Promise<ProposalOutcome>((resolve, reject) => {
      const cancelTimer = this.#clock.setTimer(timeoutMs, () => {
        this.#settle(index, (p) =>
          p.reject(
            new BerthError('timeout', `proposal at ${index} not applied within ${timeoutMs} ms`, {
              index,
              term,
            }),
          ),
        );
      });
      this.#pending.set(index, { term, resolve, reject, cancelTimer });
    });
  }

  /** Settles the proposals that the applied entries decide. */
  applied(entries: readonly Entry[]): void {
    if (this.#pending.size === 0) return;
    for (const e of entries) {
      this.#settle(e.index, (p) => {
        if (p.term === e.term) p.resolve({ index: e.index, term: e.term });
        else p.reject(dropped(e.index, p.term, `index committed in term ${e.term}`));
      });
    }
  }

  /**
   * A snapshot replaced the log up to `index`: whether our entries made it in is unknown,
   * so those proposals get the same answer as a timeout.
   */
  coveredBySnapshot(index: number): void {
    for (const at of [...this.#pending.keys()]) {
      if (at > index) continue;
      this.#settle(at, (p) =>
        p.reject(
          new BerthError(
            'timeout',
            `proposal at ${at}: outcome unknown (log replaced by a snapshot)`,
            { index: at },
          ),
        ),
      );
    }
  }

  /** Rejects every pending proposal with `error` (host closed or failed). */
  rejectAll(error: BerthError): void {
    for (const at of [...this.#pending.keys()]) this.#settle(at, (p) => p.reject(error));
  }

  #settle(index: number, fn: (p: Pending) => void): void {
    const p = this.#pending.get(index);
    if (!p) return;
    this.#pending.delete(index);
    p.cancelTimer();
    fn(p);
  }
}

function dropped(index: number, term: number, why: string): BerthError {
  return new BerthError(
    'proposal_dropped',
    `proposal at ${index} (term ${term}) was dropped: ${why}`,
    {
      index,
      term,
    },
  );
}
