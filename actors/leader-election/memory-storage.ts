/**
 * An in-memory RaftStorage for tests and the simulator. It behaves like a durable store
 * that never loses a write: the caller applies each Ready to it (snapshot, entries, hard
 * state) before sending messages. The SQLite storage in src/raft/ follows the same
 * contract (storage-contract.ts).
 *
 * Membership on restart (the etcd way): `initialState().conf` is the membership in force
 * where the node's state resumes — the latest snapshot's `meta.conf` once a snapshot
 * exists, else the bootstrap conf from `setConf`. The core resumes applying at the
 * snapshot index and replays the committed config entries after it, which rebuilds the
 * rest; entries the snapshot covers may be compacted away without losing membership.
 */
import { assert } from '../../src/core/assert.ts';
import {
  type ConfState,
  type Entry,
  type HardState,
  type RaftStorage,
  RaftStorageError,
  type Snapshot,
} from './types.ts';

export class MemoryStorage implements RaftStorage {
  #hardState: HardState = { term: 0, vote: 0, commit: 0 };
  /** The membership at index 0 (bootstrap); superseded by the snapshot's once one exists. */
  #bootstrapConf: ConfState = { voters: [], learners: [] };
  #snapshot: Snapshot = { meta: { index: 0, term: 0, conf: emptyConf() }, data: new Uint8Array() };
  /** The last compacted entry (a dummy holding only index and term), like etcd's ents[0]. */
  #dummyIndex = 0;
  #dummyTerm = 0;
  /** Entries after the dummy: #entries[i] has index #dummyIndex + 1 + i. */
  #entries: Entry[] = [];

  initialState(): { hardState: HardState; conf: ConfState } {
    const snap = this.#snapshot.meta;
    const conf = snap.index > 0 ? snap.conf : this.#bootstrapConf;
    return { hardState: { ...this.#hardState }, conf: cloneConf(conf) };
  }

  entries(lo: number, hi: number): Entry[] {
    const first = this.firstIndex();
    if (lo < first) throw new RaftStorageError('compacted', `entries: ${lo} < first ${first}`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftStorageError('unavailable', `entries: ${hi} > last ${this.lastIndex()} + 1`);
    }
    return this.#entries.slice(lo - first, Math.max(lo, hi) - first).map((e) => ({ ...e }));
  }

  term(index: number): number {
    if (index === this.#dummyIndex) return this.#dummyTerm;
    if (index < this.#dummyIndex)
      throw new RaftStorageError('compacted', `term: ${index} compacted`);
    const entry = this.#entries[index - this.#dummyIndex - 1];
    if (!entry) throw new RaftStorageError('unavailable', `term: ${index} not in log`);
    return entry.term;
  }

  firstIndex(): number {
    return this.#dummyIndex + 1;
  }

  lastIndex(): number {
    return this.#dummyIndex + this.#entries.length;
  }

  snapshot(): Snapshot {
    const meta = this.#snapshot.meta;
    return { meta: { ...meta, conf: cloneConf(meta.conf) }, data: this.#snapshot.data };
  }

  /** Records the hard state (a real store fsyncs it before the caller sends). */
  setHardState(hs: HardState): void {
    this.#hardState = { ...hs };
  }

  /**
   * Records the bootstrap membership: the conf in force before the first log entry (a new
   * cluster's initial voters, or what a joining node starts from). Once a snapshot exists
   * a restart starts from the snapshot's conf instead and this value is not read:
   * membership changes reach storage through the log and snapshots, not through here.
   */
  setConf(conf: ConfState): void {
    this.#bootstrapConf = cloneConf(conf);
  }

  /** Appends entries, replacing any stored suffix that starts at entries[0].index. */
  append(entries: Entry[]): void {
    const head = entries[0];
    if (!head) return;
    assert(head.index <= this.lastIndex() + 1, `append: ${head.index} leaves a gap`);
    // Entries at or below the compaction point are committed and identical; skip them.
    const first = this.firstIndex();
    const fresh = entries.filter((e) => e.index >= first);
    const freshHead = fresh[0];
    if (!freshHead) return;
    this.#entries = this.#entries.slice(0, freshHead.index - first);
    for (const e of fresh) this.#entries.push({ ...e });
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.#snapshot.meta.index) {
      throw new RaftStorageError('snapshot_out_of_date', `snapshot ${snap.meta.index} is stale`);
    }
    this.#snapshot = { meta: { ...snap.meta, conf: cloneConf(snap.meta.conf) }, data: snap.data };
    this.#dummyIndex = snap.meta.index;
    this.#dummyTerm = snap.meta.term;
    this.#entries = [];
    if (this.#hardState.commit < snap.meta.index) {
      this.#hardState = { ...this.#hardState, commit: snap.meta.index };
    }
  }

  /**
   * Records a snapshot of the state machine at `index` (an applied index still in the
   * log) with `conf`, the membership in force at `index`; from now on a restart starts
   * from that conf. Entries stay until `compact` drops them, so slow followers can still
   * be fed.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.#snapshot.meta.index) {
      throw new RaftStorageError('snapshot_out_of_date', `snapshot ${index} is stale`);
    }
    if (index > this.lastIndex()) {
      throw new RaftStorageError(
        'unavailable',
        `snapshot ${index} beyond last ${this.lastIndex()}`,
      );
    }
    this.#snapshot = { meta: { index, term: this.term(index), conf: cloneConf(conf) }, data };
    return this.snapshot();
  }

  /**
   * Drops entries up to and including `index`. Only what a snapshot covers may go, so a
   * follower that needs a dropped entry can be sent the snapshot instead.
   */
  compact(index: number): void {
    if (index <= this.#dummyIndex) {
      throw new RaftStorageError('compacted', `compact: ${index} already compacted`);
    }
    if (index > this.#snapshot.meta.index) {
      throw new RaftStorageError('unavailable', `compact: ${index} is beyond the snapshot`);
    }
    this.#dummyTerm = this.term(index);
    this.#entries = this.#entries.slice(index - this.#dummyIndex);
    this.#dummyIndex = index;
  }
}

function emptyConf(): ConfState {
  return { voters: [], learners: [] };
}

function cloneConf(conf: ConfState): ConfState {
  const out: ConfState = { voters: [...conf.voters], learners: [...conf.learners] };
  if (conf.retired && conf.retired.length > 0) out.retired = [...conf.retired];
  return out;
}
