/**
 * The last lines of one allocation's output, kept by the supervisor host so `berth logs`
 * answers from memory even after the task was removed or restarted. A fixed-capacity ring:
 * the oldest line falls out when a new one arrives at capacity, so memory stays bounded
 * whatever the task prints.
 */
import { assert } from '../core/assert.ts';
import type { LogLine } from '../drivers/driver.ts';

export interface LogQuery {
  /** Last N lines only (after the `sinceMs` filter). */
  tail?: number;
  /** Only lines at or after this wall-clock ms. */
  sinceMs?: number;
}

export class LogBuffer {
  #lines: (LogLine | undefined)[];
  #start = 0;
  #size = 0;
  /** Lines that fell out because the buffer was full. */
  dropped = 0;

  constructor(capacityLines: number) {
    assert(Number.isInteger(capacityLines) && capacityLines >= 1, 'log buffer capacity ≥ 1');
    this.#lines = new Array(capacityLines);
  }

  push(line: LogLine): void {
    const capacity = this.#lines.length;
    this.#lines[(this.#start + this.#size) % capacity] = line;
    if (this.#size < capacity) {
      this.#size += 1;
    } else {
      this.#start = (this.#start + 1) % capacity;
      this.dropped += 1;
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Matching lines, oldest first. */
  read(query: LogQuery = {}): LogLine[] {
    const out: LogLine[] = [];
    for (let i = 0; i < this.#size; i++) {
      const line = this.#lines[(this.#start + i) % this.#lines.length] as LogLine;
      if (query.sinceMs === undefined || line.atMs >= query.sinceMs) out.push(line);
    }
    if (query.tail === undefined) return out;
    return out.slice(Math.max(0, out.length - Math.max(0, query.tail)));
  }
}
