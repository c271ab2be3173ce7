/**
 * One timer for every upstream attempt in flight, instead of a setTimeout and an abort
 * listener per request. A sweep every `routerDeadlineSweepMs` visits each registered
 * entry, which then checks its own deadline and, if it has already waited a whole sweep,
 * whether its client went away. A request answered within one sweep, nearly all of them,
 * never touches a timer or its abort signal, and both cost measurably per request.
 *
 * The price is precision: a timeout fires up to one sweep late, and a client that goes
 * away is noticed within two sweeps.
 */
import { limits } from '../core/limits.ts';
import { SlotList, type Slotted } from '../core/slot-list.ts';

/** Something with a deadline, visited by every sweep while it is registered. */
export interface Sweepable extends Slotted {
  /** Called once per sweep with performance.now() in ms; may unregister itself. */
  sweep(nowMs: number): void;
}

/** Registration is per request, so the entries are a SlotList, not a Set (slot-list.ts). */
export class DeadlineSweeper {
  readonly #entries = new SlotList<Sweepable>();
  readonly #intervalMs: number;
  readonly #entriesMax: number;
  #timer: Timer | undefined;

  constructor(intervalMs: number, entriesMax: number) {
    this.#intervalMs = intervalMs;
    this.#entriesMax = entriesMax;
  }

  /** Registers `entry`; false when the sweeper is full (the caller then times itself). */
  add(entry: Sweepable): boolean {
    if (this.#entries.has(entry)) return true;
    if (this.#entries.size >= this.#entriesMax) return false;
    this.#entries.add(entry);
    // The interval keeps running while there is traffic; the sweep that finds nothing
    // stops it, so a burst of requests costs one setInterval, not one per request.
    this.#timer ??= setInterval(() => this.#sweep(), this.#intervalMs);
    return true;
  }

  delete(entry: Sweepable): void {
    this.#entries.delete(entry);
  }

  /** Entries registered now. */
  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const nowMs = performance.now();
    // Bounded by entriesMax; entries added meanwhile wait for the next sweep.
    this.#entries.forEach((entry) => {
      entry.sweep(nowMs);
    });
  }
}

/** The process's sweeper for proxied requests (every Router and listener shares it). */
export const upstreamDeadlines = new DeadlineSweeper(
  limits.routerDeadlineSweepMs,
  limits.routerAttemptsSweptMax,
);
