import { assert } from '../core/assert.ts';

/**
 * A bounded single-consumer queue that an async iterator drains. Producers never wait:
 * when the consumer lags by more than `capacity` items the oldest are dropped and
 * counted, so a slow reader of logs or events cannot grow the agent's memory.
 */
export class AsyncQueue<T> {
  #items: T[] = [];
  #capacity: number;
  #closed = false;
  #wake: (() => void) | undefined;
  /** Items dropped because the consumer lagged. */
  dropped = 0;

  constructor(capacity: number) {
    assert(capacity >= 1, 'queue capacity must be positive');
    this.#capacity = capacity;
  }

  push(item: T): void {
    if (this.#closed) return;
    if (this.#items.length >= this.#capacity) {
      this.#items.shift();
      this.dropped += 1;
    }
    this.#items.push(item);
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    this.#notify();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async *drain(): AsyncGenerator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
