/**
 * Membership as the Raft host presents it to the rest of the node:
 *
 * - precise refusal codes for membership changes, decided before anything is proposed, so
 *   callers branch on a code instead of the core's generic `proposal_dropped` reason text;
 * - the leader's view of how far each member's log has come. The core's `status()` does not
 *   expose its progress tracker, so the host rebuilds match indices from the successful
 *   append acknowledgements it passes to the core (`AckedIndexes`).
 */
import type { RaftStatus } from '../../actors/leader-election/index.ts';
import type { ConfChange, ConfState, NodeId } from '../../actors/leader-election/types.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

/** One member as `RaftHost.peers()` reports it. */
export interface PeerInfo {
  id: NodeId;
  role: 'voter' | 'learner';
  /** This member is the leader as far as this node knows. */
  isLeader: boolean;
  isSelf: boolean;
  /**
   * On the leader: the highest log index this member acknowledged in the current term
   * (the leader's own last index for itself); null when it has not acknowledged anything
   * yet in this term, and always null on a non-leader.
   */
  matchIndex: number | null;
  /** On the leader: its last index minus `matchIndex`; null when `matchIndex` is null. */
  lagEntries: number | null;
}

/**
 * The highest successful append acknowledgement per member, with the term it was sent in.
 * A success answer in term T goes to the leader of T and names what the follower holds
 * durably; so while this node leads in T, it equals the core's match index (§5.3).
 */
export class AckedIndexes {
  readonly #acked = new Map<NodeId, { term: number; index: number }>();

  /** Records an acknowledgement; `isMember` is asked only for a peer not seen before. */
  note(from: NodeId, term: number, index: number, isMember: () => boolean): void {
    const prev = this.#acked.get(from);
    if (prev && (prev.term > term || (prev.term === term && prev.index >= index))) return;
    // Only members get an entry, so the map stays as small as the membership.
    if (!prev && !isMember()) return;
    this.#acked.set(from, { term, index });
  }

  /** What `id` acknowledged in `term`, or null. */
  matchIndex(id: NodeId, term: number): number | null {
    const acked = this.#acked.get(id);
    return acked && acked.term === term ? acked.index : null;
  }

  /** Forgets members that left `conf`. */
  retain(conf: ConfState): void {
    for (const id of [...this.#acked.keys()]) {
      if (!isMember(conf, id)) this.#acked.delete(id);
    }
  }
}

/** Every member of `status.conf`, voters then learners, as `peers()` reports them. */
export function listPeers(status: RaftStatus, acked: AckedIndexes): PeerInfo[] {
  const member = (id: NodeId, role: PeerInfo['role']): PeerInfo => {
    const matchIndex = leaderMatchIndex(status, acked, id);
    return {
      id,
      role,
      isLeader: id === status.leaderId,
      isSelf: id === status.id,
      matchIndex,
      lagEntries: matchIndex === null ? null : Math.max(0, status.lastIndex - matchIndex),
    };
  };
  return [
    ...status.conf.voters.map((id) => member(id, 'voter')),
    ...status.conf.learners.map((id) => member(id, 'learner')),
  ];
}

/** `id`'s match index as the leader sees it; null on a non-leader or when unknown. */
export function leaderMatchIndex(
  status: RaftStatus,
  acked: AckedIndexes,
  id: NodeId,
): number | null {
  if (status.role !== 'leader') return null;
  if (id === status.id) return status.lastIndex;
  return acked.matchIndex(id, status.term);
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

/**
 * Why `cc` cannot be applied to `conf`, as an error with a precise code, or null. It mirrors
 * the core's own rules (actors/leader-election/membership.ts) so callers can tell a retired
 * id from an unknown one without reading message text.
 */
export function membershipRefusal(conf: ConfState, cc: ConfChange): BerthError | null {
  const { node } = cc;
  if (!Number.isInteger(node) || node <= 0) {
    return new BerthError('invalid_node_id', `invalid node id ${node}`, { node });
  }
  const voter = conf.voters.includes(node);
  const learner = conf.learners.includes(node);
  const retired = (conf.retired ?? []).includes(node);
  const refuse = (code: string, message: string) => new BerthError(code, message, { node });
  switch (cc.op) {
    case 'add_learner':
    case 'add_voter':
      if (retired) return refuse('node_retired', `node id ${node} was removed and is retired`);
      if (voter || (learner && cc.op === 'add_learner')) {
        return refuse('already_member', `node ${node} is already a member`);
      }
      return null;
    case 'promote':
      if (voter) return refuse('already_voter', `node ${node} is already a voter`);
      if (learner) return null;
      if (retired) return refuse('node_retired', `node id ${node} was removed and is retired`);
      return refuse('peer_not_found', `node ${node} is not a member`);
    case 'remove':
      if (voter && conf.voters.length === 1) {
        return refuse('last_voter', 'cannot remove the last voter');
      }
      if (voter || learner) return null;
      if (retired) return refuse('node_retired', `node id ${node} was already removed`);
      return refuse('peer_not_found', `node ${node} is not a member`);
  }
}

/**
 * A learner far behind the leader would stall commits once it counts for quorum, so it
 * is promoted only when its acknowledged log is within `limits.raftPromoteLagEntriesMax`
 * of the leader's (etcd refuses such promotions too). Unknown progress counts as behind.
 */
export function promoteRefusal(
  node: NodeId,
  matchIndex: number | null,
  lastIndex: number,
): BerthError | null {
  if (matchIndex !== null && lastIndex - matchIndex <= limits.raftPromoteLagEntriesMax) {
    return null;
  }
  return new BerthError('learner_lagging', `learner ${node} has not caught up with the log`, {
    matchIndex,
    lastIndex,
  });
}

/** What the host knows about the leader's state when a membership change is asked for. */
export interface ConfChangeReadiness {
  term: number;
  appliedIndex: number;
  /** Term of the entry at `appliedIndex` (null when storage no longer knows it). */
  appliedTerm: number | null;
  /** The last change this host proposed. */
  lastProposed: { index: number; term: number };
}

/**
 * The core takes one membership change at a time, and none from a new leader before it
 * committed an entry of its own term (thesis §4.1 and its errata). Both rules are mirrored
 * here conservatively: once an entry of the current term is applied, everything before the
 * election is applied too, and this host's own last change is the only one that can still
 * be pending. When this returns null, the core does not refuse for those reasons.
 */
export function pendingChangeRefusal(r: ConfChangeReadiness): BerthError | null {
  if (r.lastProposed.term === r.term && r.lastProposed.index > r.appliedIndex) {
    return new BerthError('membership_change_pending', 'a membership change is still applying', {
      index: r.lastProposed.index,
    });
  }
  if (r.appliedTerm !== r.term) {
    return new BerthError(
      'membership_change_pending',
      'the new leader has not applied an entry of its term yet',
    );
  }
  return null;
}
