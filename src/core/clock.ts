/**
 * Time as an injected dependency. Actor logic never reads the clock; the runtime and
 * the shell do, through a Clock, so a simulation can substitute simulated time.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; monotonic. */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch (the leader stamps this into entries). */
  wallMs(): number;
  /** Runs `fn` after `delayMs`; returns a function that cancels it. */
  setTimer(delayMs: number, fn: () => void): () => void;
}

/** The real clock: performance.now() for monotonic time, Date.now() for wall time. */
export const realClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimer(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return () => clearTimeout(handle);
  },
};

interface PendingTimer {
  atMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A simulated clock: time moves only when `advance` or `runNext` is called. Timers due at
 * the same instant fire in the order they were set, so a run is fully deterministic.
 */
export class SimClock implements Clock {
  #nowMs: number;
  #wallOffsetMs: number;
  #seq = 0;
  #timers: PendingTimer[] = [];

  constructor(startMs = 0, wallOffsetMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
    this.#wallOffsetMs = wallOffsetMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  wallMs(): number {
    return this.#wallOffsetMs + this.#nowMs;
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    const timer: PendingTimer = {
      atMs: this.#nowMs + Math.max(0, delayMs),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Number of timers still pending (cancelled ones excluded). */
  pendingCount(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Fires the earliest pending timer, moving time to it. Returns false when none is left. */
  runNext(): boolean {
    const next = this.#popEarliest();
    if (!next) return false;
    this.#nowMs = Math.max(this.#nowMs, next.atMs);
    next.fn();
    return true;
  }

  /** Moves time forward by `deltaMs`, firing every timer due on the way, in order. */
  advance(deltaMs: number): void {
    const targetMs = this.#nowMs + deltaMs;
    for (;;) {
      const next = this.#peekEarliest();
      if (!next || next.atMs > targetMs) break;
      this.runNext();
    }
    this.#nowMs = targetMs;
  }

  #peekEarliest(): PendingTimer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: PendingTimer | undefined;
    for (const t of this.#timers) {
      if (!best || t.atMs < best.atMs || (t.atMs === best.atMs && t.seq < best.seq)) best = t;
    }
    return best;
  }

  #popEarliest(): PendingTimer | undefined {
    const best = this.#peekEarliest();
    if (best) this.#timers.splice(this.#timers.indexOf(best), 1);
    return best;
  }
}
