/**
 * Raft safety invariants (Raft paper §5.2–§5.4, Figure 3), checked incrementally as the
 * simulation runs, so a violation is reported at the event that caused it:
 *
 * - election_safety: at most one leader per term, ever. Checked from role changes and
 *   from every append/heartbeat sent (only a term's leader sends those).
 * - log_matching: two durable logs holding an entry with the same index and term hold
 *   the same entry and the same prefix. Checked per persisted entry against a global
 *   record of (index, term) → (entry, previous entry's term): equal previous terms at
 *   every index chain by induction into equal prefixes.
 * - leader_completeness: an entry committed in term C is in the log of every leader of
 *   a term above C. Checked when a node becomes leader, against its durable log.
 * - state_machine_safety: no two nodes apply different entries at one index, and each
 *   node applies indexes in order without gaps.
 * - acked_entry_lost: an entry acknowledged to a client is in every member's final
 *   applied sequence, at the index it was acknowledged at.
 *
 * The first violation is kept; later ones are usually its consequences.
 */
import type {
  Entry,
  NodeId,
  RaftMessage,
  RaftStorage,
} from '../../actors/leader-election/index.ts';
import type { SimViolation } from './runner.ts';

interface RecordedEntry {
  key: string;
  prevTerm: number | undefined;
  node: NodeId;
}

interface CommittedRecord {
  term: number;
  key: string;
  /** The lowest term any node had when it applied this entry: ≥ the term that committed it. */
  commitTermBound: number;
}

/** Stable names of the invariants, as reported in violations. */
export type RaftInvariant =
  | 'election_safety'
  | 'log_matching'
  | 'leader_completeness'
  | 'state_machine_safety'
  | 'acked_entry_lost'
  | 'liveness';

export class RaftChecker {
  violation: SimViolation | undefined;
  readonly #nowMs: () => number;
  readonly #leaderByTerm = new Map<number, NodeId>();
  readonly #entryAt = new Map<string, RecordedEntry>();
  readonly #committed = new Map<number, CommittedRecord>();
  readonly #acked = new Map<string, number>();
  /** Leaders seen, for reports and tests: term → id. */
  get leaders(): ReadonlyMap<number, NodeId> {
    return this.#leaderByTerm;
  }
  get committedCount(): number {
    return this.#committed.size;
  }
  /** The highest index acknowledged to a client. */
  get ackedIndexMax(): number {
    let max = 0;
    for (const index of this.#acked.values()) max = Math.max(max, index);
    return max;
  }
  get ackedCount(): number {
    return this.#acked.size;
  }

  constructor(nowMs: () => number) {
    this.#nowMs = nowMs;
  }

  fail(invariant: RaftInvariant, message: string): void {
    if (!this.violation) this.violation = { invariant, message, atMs: this.#nowMs() };
  }

  /** A node is leader of `term` (from its role, or because it sent a leader-only message). */
  onLeader(id: NodeId, term: number, why: string): void {
    const known = this.#leaderByTerm.get(term);
    if (known === undefined) this.#leaderByTerm.set(term, id);
    else if (known !== id) {
      this.fail('election_safety', `term ${term} has two leaders: ${known} and ${id} (${why})`);
    }
  }

  /** Every message a node sends: appends and heartbeats reveal who leads which term. */
  onSend(msg: RaftMessage): void {
    if (msg.type === 'append' || msg.type === 'heartbeat' || msg.type === 'snapshot') {
      this.onLeader(msg.from, msg.term, `sent ${msg.type}`);
    }
  }

  /** Entries just made durable on `id`; `storage` already holds them. */
  onPersisted(id: NodeId, entries: readonly Entry[], storage: RaftStorage): void {
    const first = storage.firstIndex();
    for (const e of entries) {
      const prevTerm = e.index - 1 >= first - 1 ? storage.term(e.index - 1) : undefined;
      const at = `${e.index}:${e.term}`;
      const key = entryKey(e);
      const seen = this.#entryAt.get(at);
      if (!seen) {
        this.#entryAt.set(at, { key, prevTerm, node: id });
        continue;
      }
      if (seen.key !== key) {
        this.fail(
          'log_matching',
          `index ${e.index} term ${e.term}: node ${id} holds ${key}, node ${seen.node} held ${seen.key}`,
        );
      } else if (
        prevTerm !== undefined &&
        seen.prevTerm !== undefined &&
        seen.prevTerm !== prevTerm
      ) {
        this.fail(
          'log_matching',
          `index ${e.index} term ${e.term}: node ${id} has term ${prevTerm} before it, node ${seen.node} had ${seen.prevTerm}`,
        );
      }
    }
  }

  /** `id` just became leader of `term`: its durable log must hold every entry committed below that term. */
  onBecameLeader(id: NodeId, term: number, storage: RaftStorage): void {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    for (const [index, c] of this.#committed) {
      if (c.commitTermBound >= term || index < first) continue;
      if (index > last) {
        this.fail(
          'leader_completeness',
          `leader ${id} of term ${term} lacks committed index ${index} (last ${last})`,
        );
        return;
      }
      const [e] = storage.entries(index, index + 1);
      if (!e || entryKey(e) !== c.key) {
        this.fail(
          'leader_completeness',
          `leader ${id} of term ${term} has ${e ? entryKey(e) : 'nothing'} at committed index ${index}, committed was ${c.key}`,
        );
        return;
      }
    }
  }

  /** `id` applied `entry` while at `nodeTerm`, right after index `prevApplied`. */
  onApplied(id: NodeId, entry: Entry, prevApplied: number, nodeTerm: number): void {
    if (entry.index !== prevApplied + 1) {
      this.fail(
        'state_machine_safety',
        `node ${id} applied index ${entry.index} after ${prevApplied}`,
      );
      return;
    }
    const key = entryKey(entry);
    const c = this.#committed.get(entry.index);
    if (!c) {
      this.#committed.set(entry.index, { term: entry.term, key, commitTermBound: nodeTerm });
      return;
    }
    if (c.key !== key) {
      this.fail(
        'state_machine_safety',
        `index ${entry.index}: node ${id} applied ${key}, another node applied ${c.key}`,
      );
    }
    c.commitTermBound = Math.min(c.commitTermBound, nodeTerm);
  }

  /** A client was told its command `data` committed at `index`. */
  onAcked(data: string, index: number): void {
    if (!this.#acked.has(data)) this.#acked.set(data, index);
  }

  /** At the end: every acked command is in each member's applied sequence at its index. */
  checkAckedPresent(applied: ReadonlyMap<NodeId, readonly string[]>): void {
    for (const [data, index] of this.#acked) {
      for (const [id, seq] of applied) {
        const got = seq[index - 1];
        if (got !== data) {
          this.fail(
            'acked_entry_lost',
            `acked ${data} at index ${index}, node ${id} applied ${got ?? 'nothing'} there`,
          );
          return;
        }
      }
    }
  }
}

/** How entries are compared: kind and payload (the index and term are the position). */
export function entryKey(e: Entry): string {
  return `${e.term}/${e.kind}/${e.data}`;
}
