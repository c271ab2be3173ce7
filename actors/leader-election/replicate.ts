/**
 * Leader-side replication (§5.3): appending proposals, feeding each follower according to
 * its progress state, heartbeats, snapshots in chunks (§7), and advancing the commit
 * index by counting replicas of current-term entries (§5.4.2).
 */
import { assert } from '../../src/core/assert.ts';
import {
  becomeSnapshot,
  isPaused,
  type OutgoingSnapshot,
  type Progress,
  sentAppend,
} from './progress.ts';
import {
  appendEntries,
  commitTo,
  currentSnapshot,
  entriesIn,
  lastIndex,
  termAt,
} from './raft-log.ts';
import { releaseReadsAwaitingCommit } from './read-index.ts';
import { quorumSize, type RaftState, send } from './state.ts';
import type { Entry, EntryKind, NodeId } from './types.ts';

/** Appends one entry in the leader's term and counts it as replicated on the leader. */
export function appendAsLeader(s: RaftState, kind: EntryKind, data: string): Entry {
  assert(s.role === 'leader', 'only a leader appends new entries');
  const entry: Entry = { index: lastIndex(s.log) + 1, term: s.term, kind, data };
  appendEntries(s.log, [entry]);
  const self = s.progress.get(s.id);
  assert(self, 'a leader tracks its own progress');
  self.match = entry.index;
  self.next = entry.index + 1;
  // The leader counts its own entry at once. That is safe because the caller persists
  // Ready.entries before sending Ready.messages, so no follower can acknowledge an entry
  // (and complete a quorum) before the leader's own copy is durable.
  maybeCommit(s);
  return entry;
}

/**
 * Advances the commit index to the highest index a quorum of voters holds, but only if
 * that entry is from the current term (§5.4.2, Figure 8): counting replicas of an older
 * term's entry is unsafe, because a future leader may still overwrite it.
 */
export function maybeCommit(s: RaftState): boolean {
  const matches = s.conf.voters.map((id) => s.progress.get(id)?.match ?? 0).sort((a, b) => b - a);
  const quorumIndex = matches[quorumSize(s.conf) - 1] ?? 0;
  if (quorumIndex <= s.log.committed) return false;
  const countOldTerms = s.config.testBugs?.countOldTermReplicas === true;
  if (!countOldTerms && termAt(s.log, quorumIndex) !== s.term) return false;
  commitTo(s.log, quorumIndex);
  releaseReadsAwaitingCommit(s);
  return true;
}

/** True once the leader has committed an entry of its own term (thesis §6.4 step 1). */
export function committedInCurrentTerm(s: RaftState): boolean {
  return termAt(s.log, s.log.committed) === s.term;
}

/**
 * Sends `to` the next batch of entries its progress allows, or the snapshot when the
 * entries it needs were compacted. Returns whether a message went out.
 */
export function maybeSendAppend(s: RaftState, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = s.progress.get(to);
  if (!pr || isPaused(pr, s.config.maxInflightMsgs)) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = termAt(s.log, prevIndex);
  const entries =
    prevTerm === null ? null : entriesIn(s.log, pr.next, pr.next + s.config.maxEntriesPerMsg);
  if (prevTerm === null || entries === null) {
    startSnapshot(s, to, pr);
    return true;
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  send(s, {
    type: 'append',
    to,
    term: s.term,
    prevIndex,
    prevTerm,
    entries,
    commit: s.log.committed,
  });
  sentAppend(pr, prevIndex + entries.length, entries.length);
  return true;
}

/** Fills a follower's pipelining window; bounded by the window size. */
export function fillPipeline(s: RaftState, to: NodeId): void {
  for (let i = 0; i <= s.config.maxInflightMsgs; i++) {
    if (!maybeSendAppend(s, to, false)) return;
  }
}

export function broadcastAppend(s: RaftState): void {
  for (const id of s.progress.keys()) {
    if (id !== s.id) maybeSendAppend(s, id, true);
  }
}

export function broadcastHeartbeat(s: RaftState, context?: string): void {
  for (const [id, pr] of s.progress) {
    if (id === s.id) continue;
    // A follower may only commit what it is known to hold, so its commit index in a
    // heartbeat is capped by its match (etcd does the same).
    const commit = Math.min(pr.match, s.log.committed);
    if (context === undefined) send(s, { type: 'heartbeat', to: id, term: s.term, commit });
    else send(s, { type: 'heartbeat', to: id, term: s.term, commit, context });
  }
}

function startSnapshot(s: RaftState, to: NodeId, pr: Progress): void {
  const snap = currentSnapshot(s.log);
  assert(snap.meta.index > 0, 'entries are only compacted behind a snapshot');
  becomeSnapshot(pr, snap.meta.index);
  pr.outgoingSnapshot = { meta: snap.meta, data: snap.data, ackedBytes: 0, idleTicks: 0 };
  sendSnapshotChunk(s, to, pr.outgoingSnapshot);
}

/** Sends the chunk that starts at the acknowledged offset (one chunk in flight). */
export function sendSnapshotChunk(s: RaftState, to: NodeId, out: OutgoingSnapshot): void {
  const offset = out.ackedBytes;
  const end = Math.min(out.data.length, offset + s.config.snapshotChunkBytes);
  const chunk = Buffer.from(out.data.subarray(offset, end)).toString('base64');
  out.idleTicks = 0;
  send(s, {
    type: 'snapshot',
    to,
    term: s.term,
    meta: out.meta,
    offset,
    chunk,
    done: end >= out.data.length,
  });
}

/** Resends a chunk whose acknowledgement did not come within an election timeout. */
export function tickOutgoingSnapshots(s: RaftState): void {
  for (const [id, pr] of s.progress) {
    const out = pr.outgoingSnapshot;
    if (!out) continue;
    out.idleTicks++;
    if (out.idleTicks >= s.config.electionTicks) sendSnapshotChunk(s, id, out);
  }
}

export function sendTimeoutNow(s: RaftState, to: NodeId): void {
  send(s, { type: 'timeout_now', to, term: s.term });
}
