/**
 * The follower side of InstallSnapshot (§7): chunks arrive in order, one at a time; the
 * follower acknowledges each with the bytes it holds, reassembles the whole snapshot,
 * then replaces its log with it and hands it out in Ready.snapshot.
 */
import { limits } from '../../src/core/limits.ts';
import { commitTo, matchTerm, restoreSnapshot } from './raft-log.ts';
import type { IncomingSnapshot, RaftState } from './state.ts';
import { send } from './state.ts';
import type { ConfState, RaftMessage, Snapshot } from './types.ts';

type SnapshotChunk = Extract<RaftMessage, { type: 'snapshot' }>;

export function handleSnapshotChunk(s: RaftState, m: SnapshotChunk): void {
  const inc = receivingFor(s, m);
  if (!inc) {
    replyChunk(s, m, 0, false);
    return;
  }
  if (m.offset < inc.receivedBytes) {
    replyChunk(s, m, inc.receivedBytes, true); // a duplicate: say where we are
    return;
  }
  const bytes = new Uint8Array(Buffer.from(m.chunk, 'base64'));
  if (
    m.offset > inc.receivedBytes ||
    inc.receivedBytes + bytes.length > limits.raftSnapshotBytesMax
  ) {
    s.incomingSnapshot = null;
    replyChunk(s, m, 0, false);
    return;
  }
  inc.chunks.push(bytes);
  inc.receivedBytes += bytes.length;
  replyChunk(s, m, inc.receivedBytes, true);
  if (!m.done) return;
  s.incomingSnapshot = null;
  const snap: Snapshot = { meta: m.meta, data: concat(inc.chunks, inc.receivedBytes) };
  installSnapshot(s, snap);
  send(s, {
    type: 'append_resp',
    to: m.from,
    term: s.term,
    success: true,
    index: s.log.committed, // covers the snapshot whether installed or already held
    rejectHint: 0,
    rejectHintTerm: 0,
  });
}

/** The transfer this chunk belongs to, starting a new one at offset 0; null if none fits. */
function receivingFor(s: RaftState, m: SnapshotChunk): IncomingSnapshot | null {
  const inc = s.incomingSnapshot;
  const same =
    inc !== null &&
    inc.from === m.from &&
    inc.meta.index === m.meta.index &&
    inc.meta.term === m.meta.term;
  if (same) return inc;
  if (m.offset !== 0) return null;
  s.incomingSnapshot = { from: m.from, meta: m.meta, chunks: [], receivedBytes: 0 };
  return s.incomingSnapshot;
}

/**
 * Replaces the log with the snapshot unless we already hold what it covers: a snapshot
 * at or below our commit index is stale, and one whose last entry we hold (same term)
 * only advances the commit index (our log is a superset of it).
 */
function installSnapshot(s: RaftState, snap: Snapshot): void {
  const { index, term } = snap.meta;
  if (index <= s.log.committed) return;
  if (matchTerm(s.log, index, term)) {
    commitTo(s.log, index);
    return;
  }
  restoreSnapshot(s.log, snap);
  s.conf = cloneConf(snap.meta.conf);
}

function replyChunk(s: RaftState, m: SnapshotChunk, offset: number, success: boolean): void {
  send(s, {
    type: 'snapshot_resp',
    to: m.from,
    term: s.term,
    index: m.meta.index,
    offset,
    success,
  });
}

function concat(chunks: Uint8Array[], totalBytes: number): Uint8Array {
  const out = new Uint8Array(totalBytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function cloneConf(conf: ConfState): ConfState {
  const out: ConfState = { voters: [...conf.voters], learners: [...conf.learners] };
  if (conf.retired && conf.retired.length > 0) out.retired = [...conf.retired];
  return out;
}
