/**
 * The contract of Berth's Raft (the `leader-election` actor), shared by the pure core
 * (this folder), the SQLite storage and node driver (`src/raft/`) and the simulator
 * (`src/sim/`). Shape learned from etcd-io/raft: the core only decides; the caller
 * persists `Ready.entries`/`Ready.hardState` (fsync'd) before sending `Ready.messages`,
 * then applies `Ready.committedEntries` and calls `advance`.
 *
 * Extend this file by adding fields or union members; never change a field's meaning.
 */

/** Node ids are positive integers, never reused (a removed node's id stays retired). */
export type NodeId = number;

/** What an entry carries. `normal` holds an application command; `noop` starts a term. */
export type EntryKind = 'normal' | 'noop' | 'config';

export interface Entry {
  index: number;
  term: number;
  kind: EntryKind;
  /** JSON text of the payload (application command, or a ConfChange for `config`). */
  data: string;
}

/** Persisted before any vote or acknowledgement leaves the node (Raft paper §5.1, Fig. 2). */
export interface HardState {
  term: number;
  /** 0 when no vote was cast in `term`. */
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /**
   * Ids that were removed and may never join again (node ids are never reused). Carried
   * in snapshots so a node restored from one still refuses them. Absent means none.
   */
  retired?: NodeId[];
}

/** A membership change, one node at a time (single-server changes, Ongaro thesis §4.1). */
export type ConfChange =
  | { op: 'add_learner'; node: NodeId }
  | { op: 'promote'; node: NodeId }
  | { op: 'add_voter'; node: NodeId }
  | { op: 'remove'; node: NodeId };

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** Opaque state-machine bytes. */
  data: Uint8Array;
}

export type Role = 'follower' | 'pre_candidate' | 'candidate' | 'leader' | 'learner';

export interface SoftState {
  leaderId: NodeId; // 0 when unknown
  role: Role;
}

/** A linearizable read is safe once the state machine has applied `index` (§6.4). */
export interface ReadState {
  requestId: string;
  index: number;
}

/**
 * What the core asks the caller to do. Order matters (STYLE.md rule 15): persist
 * `snapshot`, `entries` and `hardState` (fsync when `mustSync`), then send `messages`,
 * then apply `committedEntries`, then call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  /** New entries for stable storage; any stored entry at or after entries[0].index is replaced. */
  entries: Entry[];
  snapshot?: Snapshot;
  /** True when hardState/entries must be fsync'd before messages leave. */
  mustSync: boolean;
  messages: RaftMessage[];
  committedEntries: Entry[];
  readStates: ReadState[];
}

/** Result of a proposal, as a value (operating errors are values with a stable code). */
export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; code: 'not_leader'; leaderHint: NodeId }
  | { ok: false; code: 'proposal_dropped'; reason: string };

/** Read-only view of stable storage that the core consults (like etcd's raft.Storage). */
export interface RaftStorage {
  /**
   * Hard state, and the membership in force where the node resumes: the latest snapshot's
   * `meta.conf` once a snapshot exists (the core resumes applying at the snapshot index and
   * replays the committed config entries after it), else the bootstrap conf.
   */
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries in [lo, hi). Throws RaftStorageError('compacted') below firstIndex. */
  entries(lo: number, hi: number): Entry[];
  /** Term of entry `index`; the snapshot's term at firstIndex-1. Throws when compacted/unavailable. */
  term(index: number): number;
  /** Index of the first entry still held (snapshot.index + 1). */
  firstIndex(): number;
  /** Index of the last entry held (snapshot.index when empty). */
  lastIndex(): number;
  /** The latest snapshot. */
  snapshot(): Snapshot;
}

export class RaftStorageError extends Error {
  override name = 'RaftStorageError';
  readonly code: 'compacted' | 'unavailable' | 'snapshot_out_of_date' | 'corrupt';
  constructor(
    code: 'compacted' | 'unavailable' | 'snapshot_out_of_date' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.code = code;
  }
}

/**
 * Peer messages. Kept as a discriminated union on `type`; `messages.ts` holds the zod
 * schema that parses them at the transport boundary.
 */
export type RaftMessage =
  | {
      type: 'vote';
      from: NodeId;
      to: NodeId;
      term: number;
      pre: boolean;
      lastIndex: number;
      lastTerm: number;
      transfer: boolean;
    }
  | { type: 'vote_resp'; from: NodeId; to: NodeId; term: number; pre: boolean; granted: boolean }
  | {
      type: 'append';
      from: NodeId;
      to: NodeId;
      term: number;
      prevIndex: number;
      prevTerm: number;
      entries: Entry[];
      commit: number;
      context?: string;
    }
  | {
      type: 'append_resp';
      from: NodeId;
      to: NodeId;
      term: number;
      success: boolean;
      index: number;
      rejectHint: number;
      rejectHintTerm: number;
      context?: string;
    }
  | { type: 'heartbeat'; from: NodeId; to: NodeId; term: number; commit: number; context?: string }
  | { type: 'heartbeat_resp'; from: NodeId; to: NodeId; term: number; context?: string }
  | {
      type: 'snapshot';
      from: NodeId;
      to: NodeId;
      term: number;
      meta: SnapshotMeta;
      offset: number;
      chunk: string;
      done: boolean;
    }
  | {
      type: 'snapshot_resp';
      from: NodeId;
      to: NodeId;
      term: number;
      index: number;
      offset: number;
      success: boolean;
    }
  | { type: 'timeout_now'; from: NodeId; to: NodeId; term: number }
  | { type: 'forward'; from: NodeId; to: NodeId; term: number; data: string };
