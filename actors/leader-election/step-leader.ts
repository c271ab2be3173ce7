/**
 * Leader behaviour: track each follower's progress from its answers (§5.3), commit
 * (§5.4.2), confirm reads (§6.4), stream snapshots (§7) and finish leadership transfers.
 */
import {
  becomeProbe,
  becomeReplicate,
  isPaused,
  maybeDecrTo,
  maybeUpdate,
  type Progress,
} from './progress.ts';
import { findConflictByTerm, lastIndex } from './raft-log.ts';
import { handleReadAck } from './read-index.ts';
import {
  broadcastAppend,
  fillPipeline,
  maybeCommit,
  maybeSendAppend,
  sendSnapshotChunk,
  sendTimeoutNow,
} from './replicate.ts';
import type { RaftState } from './state.ts';
import type { NodeId, RaftMessage } from './types.ts';

type AppendResp = Extract<RaftMessage, { type: 'append_resp' }>;
type SnapshotResp = Extract<RaftMessage, { type: 'snapshot_resp' }>;

export function stepLeader(s: RaftState, m: RaftMessage): void {
  const pr = s.progress.get(m.from);
  if (!pr) return; // not (or no longer) a member
  switch (m.type) {
    case 'append_resp':
      pr.recentActive = true;
      if (m.success) handleAppendSuccess(s, m.from, pr, m.index);
      else handleAppendReject(s, m, pr);
      return;
    case 'heartbeat_resp':
      pr.recentActive = true;
      handleHeartbeatResp(s, m.from, pr);
      if (m.context !== undefined) handleReadAck(s, m.from, m.context);
      return;
    case 'snapshot_resp':
      pr.recentActive = true;
      handleSnapshotResp(s, m, pr);
      return;
    default:
      // Votes were answered in step(); appends/heartbeats from another leader of the same
      // term cannot happen in a correct cluster, so they are ignored here.
      return;
  }
}

function handleAppendSuccess(s: RaftState, from: NodeId, pr: Progress, index: number): void {
  const wasPaused = isPaused(pr, s.config.maxInflightMsgs);
  if (!maybeUpdate(pr, index)) return; // a stale or duplicate acknowledgement
  if (pr.state === 'probe') {
    becomeReplicate(pr);
  } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
    // The follower installed the snapshot (or already had it): resume appends.
    becomeProbe(pr);
    becomeReplicate(pr);
  }
  if (maybeCommit(s)) {
    broadcastAppend(s); // followers learn the new commit index
  } else if (wasPaused) {
    // We skipped this follower while it was paused; it may not know the commit index.
    maybeSendAppend(s, from, true);
  }
  fillPipeline(s, from);
  if (from === s.leadTransferee && pr.match === lastIndex(s.log)) sendTimeoutNow(s, from);
}

function handleAppendReject(s: RaftState, m: AppendResp, pr: Progress): void {
  // The follower told us its last entry with term <= the probed term; find our last
  // entry at or below that term: everything after it is certain to mismatch.
  let matchHint = m.rejectHint;
  if (m.rejectHintTerm > 0)
    matchHint = findConflictByTerm(s.log, m.rejectHint, m.rejectHintTerm)[0];
  if (!maybeDecrTo(pr, m.index, matchHint)) return;
  if (pr.state === 'replicate') becomeProbe(pr);
  maybeSendAppend(s, m.from, true);
}

function handleHeartbeatResp(s: RaftState, from: NodeId, pr: Progress): void {
  // A heartbeat answer proves the follower is reachable: let a paused probe go again,
  // and free one pipeline slot in case acknowledgements were lost (as etcd does).
  pr.probeSent = false;
  if (pr.state === 'replicate' && pr.inflights.length >= s.config.maxInflightMsgs) {
    pr.inflights.shift();
  }
  if (pr.match < lastIndex(s.log) || pr.state === 'probe') maybeSendAppend(s, from, true);
}

function handleSnapshotResp(s: RaftState, m: SnapshotResp, pr: Progress): void {
  const out = pr.outgoingSnapshot;
  if (pr.state !== 'snapshot' || !out || out.meta.index !== m.index) return;
  if (!m.success) {
    snapshotFinished(pr, false);
    return;
  }
  if (m.offset <= out.ackedBytes) return; // duplicate acknowledgement
  out.ackedBytes = m.offset;
  out.idleTicks = 0;
  if (out.ackedBytes >= out.data.length) {
    snapshotFinished(pr, true);
    return;
  }
  sendSnapshotChunk(s, m.from, out);
}

/**
 * Ends a snapshot transfer. On success the follower holds everything up to the snapshot;
 * either way we wait (paused probe) for its append answer or a heartbeat answer before
 * sending again, so a failing follower is not flooded.
 */
export function snapshotFinished(pr: Progress, ok: boolean): void {
  if (pr.state !== 'snapshot') return;
  if (!ok) pr.pendingSnapshot = 0;
  becomeProbe(pr);
  pr.probeSent = true;
}
