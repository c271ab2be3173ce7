/**
 * The simulator's pending events, ordered by (time, insertion order). A binary heap
 * rather than SimClock's own timer list: a Raft run schedules tens of thousands of
 * events per seed and SimClock scans its whole list on every pop, which would dominate
 * the run time. Time itself still lives in the SimClock (the simulator advances it to
 * each event), so code written against the Clock interface sees simulated time.
 */
import { assert } from '../core/assert.ts';

/** One scheduled event. `owner` is a node id (0 for the world); `incarnation` ties it to one boot of that node. */
export interface SimEvent {
  atMs: number;
  seq: number;
  owner: number;
  incarnation: number;
  label: string;
  fn: () => void;
}

/** A min-heap of events keyed by (atMs, seq), so equal-time events run in scheduling order. */
export class EventQueue {
  #heap: SimEvent[] = [];
  #seq = 0;
  readonly #sizeMax: number;

  constructor(sizeMax: number) {
    this.#sizeMax = sizeMax;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Adds an event. Asserts the bound: a runaway schedule is a harness bug, not an operating error. */
  push(event: Omit<SimEvent, 'seq'>): void {
    assert(this.#heap.length < this.#sizeMax, `event queue over its bound ${this.#sizeMax}`);
    const full: SimEvent = { ...event, seq: this.#seq++ };
    this.#heap.push(full);
    this.#siftUp(this.#heap.length - 1);
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): SimEvent | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop() as SimEvent;
    if (heap.length > 0) {
      heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  peek(): SimEvent | undefined {
    return this.#heap[0];
  }

  #less(a: SimEvent, b: SimEvent): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  #siftUp(start: number): void {
    const heap = this.#heap;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const a = heap[i] as SimEvent;
      const b = heap[parent] as SimEvent;
      if (!this.#less(a, b)) break;
      heap[i] = b;
      heap[parent] = a;
      i = parent;
    }
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    const n = heap.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < n && this.#less(heap[left] as SimEvent, heap[best] as SimEvent)) best = left;
      if (right < n && this.#less(heap[right] as SimEvent, heap[best] as SimEvent)) best = right;
      if (best === i) break;
      const tmp = heap[i] as SimEvent;
      heap[i] = heap[best] as SimEvent;
      heap[best] = tmp;
      i = best;
    }
  }
}
