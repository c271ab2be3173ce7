/**
 * A FIFO with a fixed capacity that, when full, drops its oldest item to make room.
 * Peer send queues use it: for Raft the newest message is the most useful one (it has
 * the latest term and commit index), and anything dropped is retransmitted.
 */
import { assert } from '../core/assert.ts';

export class DropOldestQueue<T> {
  readonly capacity: number;
  #items: T[] = [];
  #head = 0;

  constructor(capacity: number) {
    assert(
      Number.isInteger(capacity) && capacity >= 1,
      'queue capacity must be a positive integer',
    );
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Appends `item`; returns the item dropped to make room, or undefined. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.size >= this.capacity) dropped = this.shift();
    this.#items.push(item);
    return dropped;
  }

  peek(): T | undefined {
    return this.size > 0 ? this.#items[this.#head] : undefined;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.#items[this.#head] as T;
    this.#head++;
    // Compact once the consumed prefix dominates, so shift stays O(1) amortised and the
    // array never holds more than about twice the capacity.
    if (this.#head >= 64 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
