/**
 * Ordered execution per key: jobs queued under one key (an allocation) run one after the
 * other, in the order queued, while different keys run concurrently. This is how the host
 * keeps "stop, then remove, then propose complete" in order for one allocation without
 * letting a 30-second stop of one allocation delay the start of another.
 *
 * A lane holds at most `jobsMax` queued jobs; beyond it a job is refused (the caller logs
 * it). Jobs never reject the lane: a thrown error is handed to `onError` and the lane goes on.
 */
import { assert } from '../core/assert.ts';

interface Lane {
  tail: Promise<void>;
  queued: number;
}

export class EffectLanes {
  #lanes = new Map<string, Lane>();
  #jobsMax: number;
  #onError: (key: string, error: unknown) => void;

  constructor(jobsMax: number, onError: (key: string, error: unknown) => void) {
    assert(jobsMax >= 1, 'a lane must hold at least one job');
    this.#jobsMax = jobsMax;
    this.#onError = onError;
  }

  /** Queues `job` behind the lane's earlier jobs; false when the lane is full. */
  run(key: string, job: () => Promise<void>): boolean {
    const lane = this.#lanes.get(key) ?? { tail: Promise.resolve(), queued: 0 };
    if (lane.queued >= this.#jobsMax) return false;
    lane.queued += 1;
    lane.tail = lane.tail.then(async () => {
      try {
        await job();
      } catch (error) {
        this.#onError(key, error);
      } finally {
        lane.queued -= 1;
        // The last job out removes the lane, so idle allocations cost nothing.
        if (lane.queued === 0 && this.#lanes.get(key) === lane) this.#lanes.delete(key);
      }
    });
    this.#lanes.set(key, lane);
    return true;
  }

  /** Jobs queued or running, over all lanes. */
  get pending(): number {
    let total = 0;
    for (const lane of this.#lanes.values()) total += lane.queued;
    return total;
  }

  /** Resolves once every job queued so far has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.#lanes.values()].map((lane) => lane.tail));
  }
}
