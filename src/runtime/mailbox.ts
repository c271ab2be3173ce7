/**
 * A bounded FIFO mailbox. It grows its ring buffer on demand up to its capacity, so an
 * idle actor with a large bound costs little memory, and refuses (returns false) once
 * full instead of growing: back-pressure, never silent growth (STYLE.md rule 7).
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';

const initialSlotCount = 16;

export class Mailbox<M> {
  readonly capacity: number;
  #slots: (M | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    assert(
      Number.isInteger(capacity) && capacity >= 1 && capacity <= limits.mailboxDepthCeiling,
      `mailbox capacity must be an integer in [1, ${limits.mailboxDepthCeiling}], got ${capacity}`,
    );
    this.capacity = capacity;
    this.#slots = new Array(Math.min(initialSlotCount, capacity));
  }

  get size(): number {
    return this.#size;
  }

  /** Appends `message`; false when the mailbox is full (nothing is changed then). */
  push(message: M): boolean {
    if (this.#size >= this.capacity) return false;
    if (this.#size === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#size) % this.#slots.length] = message;
    this.#size += 1;
    return true;
  }

  /** Removes and returns the oldest message. The mailbox must not be empty. */
  shift(): M {
    assert(this.#size > 0, 'shift from an empty mailbox');
    const message = this.#slots[this.#head] as M;
    // Clear the slot so a handled message can be garbage-collected.
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#size -= 1;
    return message;
  }

  /** Drops every queued message; returns how many were dropped. */
  clear(): number {
    const dropped = this.#size;
    this.#slots = new Array(Math.min(initialSlotCount, this.capacity));
    this.#head = 0;
    this.#size = 0;
    return dropped;
  }

  #grow(): void {
    const nextLength = Math.min(this.#slots.length * 2, this.capacity);
    const next: (M | undefined)[] = new Array(nextLength);
    for (let i = 0; i < this.#size; i += 1) {
      next[i] = this.#slots[(this.#head + i) % this.#slots.length];
    }
    this.#slots = next;
    this.#head = 0;
  }
}
