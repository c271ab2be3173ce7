/**
 * Read barriers waiting on this node (Raft thesis §6.4, ReadIndex). A barrier goes through
 * three stages:
 *
 *   1. queued: waiting for the next Ready round, where every queued barrier is issued to
 *      the core under one request id (`takeQueued`). Reads invoked in one turn of the
 *      event loop thus share one heartbeat round, as proposals share one fsync. Taking
 *      the read index *after* every barrier in the batch was invoked is what keeps them
 *      linearizable: the index covers every write acknowledged before any of them began.
 *   2. confirming: the core holds the request until a quorum of voters confirmed this
 *      node is still the leader; it then hands out a ReadState with the read index.
 *   3. applying: the index is known; the barrier resolves once this node's state machine
 *      has applied it (`applied`).
 *
 * A barrier that cannot finish in time is rejected with `timeout`. A round the core
 * abandoned (a role or term change clears its pending reads) is rejected by the host
 * through `rejectConfirmingExcept`, so callers learn at once instead of timing out.
 */
import { assert } from '../core/assert.ts';
import type { Clock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';

/** What a read barrier resolves with: the state machine has applied at least `index`. */
export interface ReadBarrierOutcome {
  index: number;
}

interface Reader {
  resolve: (outcome: ReadBarrierOutcome) => void;
  reject: (error: BerthError) => void;
  cancelTimer: () => void;
  /** The set holding this reader now (queued, one round's readers, or applying). */
  home: Set<Reader>;
  /** The round it belongs to while confirming; '' otherwise. */
  requestId: string;
  /** The confirmed read index; 0 until confirmed. */
  index: number;
}

/** One ReadIndex request sent to the core, shared by the barriers batched into it. */
interface Round {
  term: number;
  readers: Set<Reader>;
}

export class ReadTracker {
  readonly #clock: Clock;
  readonly #pendingMax: number;
  readonly #requestIdPrefix: string;
  #nextSeq = 1;
  #queued = new Set<Reader>();
  readonly #rounds = new Map<string, Round>();
  readonly #applying = new Set<Reader>();
  #size = 0;

  /** `requestIdPrefix` makes request ids unique across nodes and restarts of one node. */
  constructor(clock: Clock, pendingMax: number, requestIdPrefix: string) {
    assert(pendingMax >= 1, 'read tracker must allow one pending read');
    this.#clock = clock;
    this.#pendingMax = pendingMax;
    this.#requestIdPrefix = requestIdPrefix;
  }

  /** Barriers not yet settled, in any stage. */
  size(): number {
    return this.#size;
  }

  isFull(): boolean {
    return this.#size >= this.#pendingMax;
  }

  /** Read rounds the core was asked for and has not answered (for tests and metrics). */
  roundsConfirming(): number {
    return this.#rounds.size;
  }

  /** Queues a barrier for the next round; rejects with `timeout` after `timeoutMs`. */
  wait(timeoutMs: number): Promise<ReadBarrierOutcome> {
    assert(!this.isFull(), 'wait called while the read tracker is full');
    return new Promise<ReadBarrierOutcome>((resolve, reject) => {
      const reader: Reader = {
        resolve,
        reject,
        cancelTimer: () => {},
        home: this.#queued,
        requestId: '',
        index: 0,
      };
      reader.cancelTimer = this.#clock.setTimer(timeoutMs, () => this.#timeOut(reader, timeoutMs));
      this.#queued.add(reader);
      this.#size++;
    });
  }

  hasQueued(): boolean {
    return this.#queued.size > 0;
  }

  /**
   * Moves every queued barrier into one new round for `term` and returns its request id,
   * which the caller passes to the core's `readIndex`. Asserts that something is queued.
   */
  takeQueued(term: number): string {
    assert(this.#queued.size > 0, 'takeQueued with nothing queued');
    const requestId = `${this.#requestIdPrefix}${this.#nextSeq++}`;
    const readers = this.#queued;
    this.#queued = new Set();
    for (const r of readers) {
      r.home = readers;
      r.requestId = requestId;
    }
    this.#rounds.set(requestId, { term, readers });
    return requestId;
  }

  /** Rejects every queued barrier (this node is not the leader when the round would start). */
  rejectQueued(error: BerthError): void {
    for (const r of [...this.#queued]) this.#settle(r, () => r.reject(error));
  }

  /** Rejects the barriers of one round (the core refused the request). */
  rejectRound(requestId: string, error: BerthError): void {
    const round = this.#rounds.get(requestId);
    if (!round) return;
    for (const r of [...round.readers]) this.#settle(r, () => r.reject(error));
    this.#rounds.delete(requestId);
  }

  /**
   * Rejects every confirming round not issued in `leaderTerm` (null: this node is no
   * longer the leader). The core dropped those requests when its role or term changed,
   * so no ReadState will ever come for them.
   */
  rejectConfirmingExcept(leaderTerm: number | null, error: BerthError): void {
    for (const [requestId, round] of [...this.#rounds]) {
      if (round.term !== leaderTerm) this.rejectRound(requestId, error);
    }
  }

  /**
   * The core confirmed these rounds (Ready.readStates). Their barriers now wait for the
   * state machine to reach the read index; those already there resolve at once.
   */
  confirmed(readStates: readonly { requestId: string; index: number }[], appliedIndex: number) {
    for (const rs of readStates) {
      const round = this.#rounds.get(rs.requestId);
      // Unknown ids are rounds whose barriers all timed out: nobody is waiting.
      if (!round) continue;
      this.#rounds.delete(rs.requestId);
      for (const r of round.readers) {
        r.home = this.#applying;
        r.requestId = '';
        r.index = rs.index;
        this.#applying.add(r);
      }
    }
    this.applied(appliedIndex);
  }

  /** The state machine applied up to `appliedIndex`: resolves the barriers it covers. */
  applied(appliedIndex: number): void {
    if (this.#applying.size === 0) return;
    for (const r of [...this.#applying]) {
      if (r.index <= appliedIndex) this.#settle(r, () => r.resolve({ index: r.index }));
    }
  }

  /** Rejects every barrier in every stage (host closed or failed). */
  rejectAll(error: BerthError): void {
    this.rejectQueued(error);
    for (const requestId of [...this.#rounds.keys()]) this.rejectRound(requestId, error);
    for (const r of [...this.#applying]) this.#settle(r, () => r.reject(error));
  }

  #timeOut(reader: Reader, timeoutMs: number): void {
    let stage = 'confirming';
    if (reader.home === this.#queued) stage = 'queued';
    else if (reader.home === this.#applying) stage = 'applying';
    const requestId = reader.requestId;
    this.#settle(reader, () =>
      reader.reject(
        new BerthError('timeout', `read barrier not satisfied within ${timeoutMs} ms`, { stage }),
      ),
    );
    // A round whose barriers all gave up is forgotten; its late ReadState is then ignored.
    const round = this.#rounds.get(requestId);
    if (round && round.readers.size === 0) this.#rounds.delete(requestId);
  }

  #settle(reader: Reader, fn: () => void): void {
    if (!reader.home.delete(reader)) return;
    this.#size--;
    reader.cancelTimer();
    fn();
  }
}
