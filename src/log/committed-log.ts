/**
 * The committed log as actors see it (DESIGN.md §2): an ordered, durable sequence of
 * committed entries. A single-node local log implements it until Raft is running; the
 * Raft log provides the replicated implementation behind the same interface.
 */

/** One committed entry. `type` is a replicated message tag; `data` is its validated payload. */
export interface LogEntry {
  /** 1-based position in the log; consecutive. */
  index: number;
  /** The Raft term that wrote it (1 for the local single-node log). */
  term: number;
  /** The replicated message tag (append-only; never reused). */
  type: string;
  /** The payload, already validated against the tag's schema. */
  data: unknown;
}

export interface CommittedLog {
  /** Index of the newest committed entry; 0 when empty. */
  commitIndex(): number;
  /**
   * Committed entries with index in [fromIndex, fromIndex + max), in order. Entries below
   * the log's first index (compacted away) are not returned; `firstIndex` says where it starts.
   */
  read(fromIndex: number, max: number): LogEntry[];
  /** Index of the oldest entry still held (after compaction); 1 when nothing was compacted. */
  firstIndex(): number;
  /** Calls `fn` after new entries commit. Returns an unsubscribe function. */
  onCommit(fn: (commitIndex: number) => void): () => void;
}
