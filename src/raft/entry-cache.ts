/**
 * The in-memory tail of the Raft log kept by SqliteRaftStorage: a contiguous window
 * [firstIndex, lastIndex] of the most recent entries, at most `entriesMax` long. Appends
 * enter it as they are written, so the leader replicating what it just appended and the
 * term checks near the tail are served from memory. Older entries are read from disk.
 */
import type { Entry } from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';

export class EntryCache {
  readonly #entriesMax: number;
  #entries: Entry[] = [];
  /** Index of #entries[0]; when empty, lastIndex + 1 of the log. */
  #first: number;

  constructor(entriesMax: number, lastIndex: number) {
    assert(entriesMax >= 1, 'entry cache must hold at least one entry');
    this.#entriesMax = entriesMax;
    this.#first = lastIndex + 1;
  }

  /** Index of the oldest cached entry (lastIndex + 1 when the cache is empty). */
  firstIndex(): number {
    return this.#first;
  }

  get(index: number): Entry | undefined {
    return this.#entries[index - this.#first];
  }

  /** Cached entries in [lo, hi); the caller ensures the range is inside the window. */
  slice(lo: number, hi: number): Entry[] {
    assert(
      lo >= this.#first && hi <= this.#first + this.#entries.length,
      `cache slice ${lo}..${hi} outside window`,
    );
    // Copies, so a caller that edits an entry cannot change what the log holds.
    return this.#entries.slice(lo - this.#first, hi - this.#first).map((e) => ({ ...e }));
  }

  /**
   * Records consecutive entries just written; any cached entry at or after entries[0].index
   * is replaced (a new leader overwrote a conflicting suffix). The window then keeps only
   * the newest `entriesMax` entries.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const start = entries[0]!.index;
    const end = this.#first + this.#entries.length;
    if (start < this.#first || start > end) {
      // The write starts before the window (or, after a reset, at a gap): restart the window.
      this.#entries = [];
      this.#first = start;
    } else {
      this.#entries.length = start - this.#first;
    }
    for (const e of entries) this.#entries.push({ ...e });
    const excess = this.#entries.length - this.#entriesMax;
    if (excess > 0) {
      this.#entries = this.#entries.slice(excess);
      this.#first += excess;
    }
  }

  /** Forgets entries at or below `index` (compaction). */
  dropUpTo(index: number): void {
    if (index < this.#first) return;
    const n = Math.min(index - this.#first + 1, this.#entries.length);
    this.#entries = this.#entries.slice(n);
    this.#first += n;
  }

  /** Empties the cache for a log whose last index is now `lastIndex` (after a snapshot). */
  reset(lastIndex: number): void {
    this.#entries = [];
    this.#first = lastIndex + 1;
  }
}
