/**
 * Raft configuration and its defaults. Time is counted in ticks; the driver ticks every
 * `raftTickMs` (50 ms), so the defaults below are chosen in ticks with that interval.
 */
import { assert } from '../../src/core/assert.ts';
import { limits } from '../../src/core/limits.ts';
import type { NodeId } from './types.ts';

export interface RaftConfig {
  id: NodeId;
  /** Election timeout base, in ticks; each timeout is drawn from [electionTicks, 2*electionTicks). */
  electionTicks: number;
  /** Leader heartbeat interval, in ticks. */
  heartbeatTicks: number;
  /** Pre-vote (thesis §9.6): no term bump until a pre-vote quorum. Default true. */
  preVote: boolean;
  /** Check-quorum (thesis §6.2): leaders step down without a quorum; followers keep a lease. */
  checkQuorum: boolean;
  /** Append messages in flight per follower (the pipelining window). */
  maxInflightMsgs: number;
  /** Most entries in one append message (the batch size). */
  maxEntriesPerMsg: number;
  /** Uncommitted entries the leader holds before refusing proposals with proposal_dropped. */
  maxUncommittedEntries: number;
  /** Size of one InstallSnapshot chunk, in bytes of snapshot data. */
  snapshotChunkBytes: number;
  /**
   * Serve ReadIndex from the leader lease instead of a heartbeat round (thesis §6.4.1).
   * Only allowed with checkQuorum, because the lease is what check-quorum maintains: a
   * leader that lost its quorum steps down within an election timeout, and followers
   * refuse votes while they heard from a leader within one. It still assumes bounded
   * clock drift between nodes, which is why it is off by default.
   */
  leaseReads?: boolean;
  /** Test-only protocol breakers, to prove the simulator's invariant checkers can fail. */
  testBugs?: { countOldTermReplicas?: boolean; voteTwiceInTerm?: boolean };
}

/** The driver's tick interval, in ms: every tick count in RaftConfig is a multiple of it. */
export const raftTickMs = 50;

/**
 * Defaults for a LAN. The Raft paper (§9.3) measured that randomized election timeouts of
 * 150–300 ms elect a leader reliably, and that 150–155 ms timeouts give a median failover
 * of about 287 ms; etcd ships 100 ms heartbeats with a 1 s election timeout for WANs and
 * slow disks. Berth targets a LAN and ticks every 50 ms, so a heartbeat every tick (50 ms)
 * and an election base of 4 ticks (timeouts randomized in 200–400 ms) keep failover far
 * under a second while leaving 4 heartbeats per base timeout against spurious elections.
 * `multiplier` (like Nomad's raft_multiplier) scales both for slower networks or disks.
 */
export function defaultRaftConfig(id: NodeId, options: { multiplier?: number } = {}): RaftConfig {
  const multiplier = options.multiplier ?? 1;
  assert(
    Number.isInteger(multiplier) && multiplier >= 1,
    'raft multiplier must be an integer >= 1',
  );
  return {
    id,
    electionTicks: 4 * multiplier,
    heartbeatTicks: 1 * multiplier,
    preVote: true,
    checkQuorum: true,
    maxInflightMsgs: 64,
    maxEntriesPerMsg: 64,
    maxUncommittedEntries: 4096,
    snapshotChunkBytes: 512 * 1024,
  };
}

/** Asserts a configuration is usable; a bad one is a programmer error. */
export function validateRaftConfig(c: RaftConfig): void {
  assert(Number.isInteger(c.id) && c.id > 0, `raft id must be a positive integer: ${c.id}`);
  assert(c.heartbeatTicks >= 1, 'heartbeatTicks must be >= 1');
  assert(c.electionTicks > c.heartbeatTicks, 'electionTicks must exceed heartbeatTicks');
  assert(c.maxInflightMsgs >= 1, 'maxInflightMsgs must be >= 1');
  assert(c.maxInflightMsgs <= limits.raftInflightMsgsMax, 'maxInflightMsgs over its limit');
  assert(c.maxEntriesPerMsg >= 1, 'maxEntriesPerMsg must be >= 1');
  assert(c.maxEntriesPerMsg <= limits.raftEntriesPerMsgMax, 'maxEntriesPerMsg over its limit');
  assert(c.maxUncommittedEntries >= 1, 'maxUncommittedEntries must be >= 1');
  assert(
    c.maxUncommittedEntries <= limits.raftUncommittedEntriesMax,
    'maxUncommittedEntries over its limit',
  );
  assert(c.snapshotChunkBytes >= 1, 'snapshotChunkBytes must be >= 1');
  assert(c.snapshotChunkBytes <= limits.raftSnapshotChunkBytesMax, 'snapshotChunkBytes too big');
  assert(!c.leaseReads || c.checkQuorum, 'leaseReads requires checkQuorum');
}
