import { assert } from '../../core/assert.ts';

/** A fixed-capacity buffer keeping the newest `capacity` items; older ones fall out. */
export class RingBuffer<T> {
  #items: (T | undefined)[];
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    assert(capacity >= 1, 'ring capacity must be positive');
    this.#items = new Array(capacity);
  }

  push(item: T): void {
    const capacity = this.#items.length;
    this.#items[(this.#start + this.#size) % capacity] = item;
    if (this.#size < capacity) this.#size += 1;
    else this.#start = (this.#start + 1) % capacity;
  }

  get size(): number {
    return this.#size;
  }

  /** Items oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i++) {
      out.push(this.#items[(this.#start + i) % this.#items.length] as T);
    }
    return out;
  }
}
