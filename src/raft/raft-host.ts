/**
 * The imperative shell around one Raft core node (DESIGN.md §3): a real timer that ticks
 * the core every `tickMs`, the transport that carries its messages, durable storage, and
 * the Ready loop in its required order:
 *
 *   1. persist snapshot + entries + hard state in one fsync'd transaction (persistReady),
 *   2. only then send the messages (a vote or an ack must never outrun the disk, §5.1),
 *   3. apply the committed entries (state machine callback, CommittedLog readers, proposals),
 *   4. advance the core.
 *
 * Ready processing runs in a microtask scheduled by whatever produced work (a tick, a
 * message, a proposal), so proposals made in the same turn of the event loop share one
 * Ready and therefore one fsync: that is how appends are batched.
 *
 * The host also implements `CommittedLog` over the entries it has applied, so log-backed
 * mailboxes (DESIGN.md §2) can consume the replicated log exactly as they consume the
 * single-node local log. On top of the core it offers linearizable read barriers
 * (`readBarrier`, thesis §6.4), membership operations with precise refusal codes
 * (`addLearner`, `promote`, `removeNode`) and a view of the members (`peers`).
 */
import {
  createRaft,
  type RaftConfig,
  type RaftNode,
  type RaftStatus,
  raftTickMs,
} from '../../actors/leader-election/index.ts';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type NodeId,
  type ProposeResult,
  type RaftMessage,
  type RaftStorage,
  RaftStorageError,
  type Ready,
  type Snapshot,
} from '../../actors/leader-election/types.ts';
import { assert } from '../core/assert.ts';
import { type Clock, realClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { createPrng } from '../core/prng.ts';
import type { CommittedLog, LogEntry } from '../log/committed-log.ts';
import { decodeLogEntry } from './log-entry-codec.ts';
import {
  AckedIndexes,
  isMember,
  leaderMatchIndex,
  listPeers,
  membershipRefusal,
  type PeerInfo,
  pendingChangeRefusal,
  promoteRefusal,
} from './membership-view.ts';
import { type ProposalOutcome, ProposalTracker } from './proposal-tracker.ts';
import { type ReadBarrierOutcome, ReadTracker } from './read-tracker.ts';
import type { Transport } from './transport.ts';

/** Default wait for a proposal to commit and apply, in ms. */
export const proposeTimeoutMsDefault = 5_000;

/** Default wait for a read barrier to be confirmed and applied, in ms. */
export const readBarrierTimeoutMsDefault = 5_000;

export type { PeerInfo } from './membership-view.ts';
export type { ReadBarrierOutcome } from './read-tracker.ts';

/** Storage the host can write a Ready to in one durable step (SqliteRaftStorage). */
export interface HostStorage extends RaftStorage {
  /** Writes the Ready's snapshot, entries and hard state in one durable step. */
  persistReady(rd: Pick<Ready, 'snapshot' | 'entries' | 'hardState' | 'mustSync'>): void;
  /** Records the bootstrap membership (init); the running membership lives in the log. */
  setConf(conf: ConfState): void;
}

export interface RaftHostOptions {
  config: RaftConfig;
  storage: HostStorage;
  /** Must be this node's transport (`transport.id === config.id`). */
  transport: Transport;
  /** Applies committed entries to the state machine, in log order, synchronously. */
  apply?: (entries: readonly Entry[]) => void;
  /** Restores the state machine from a snapshot installed by the leader. */
  restoreSnapshot?: (snap: Snapshot) => void;
  /**
   * Seed of the core's PRNG (randomized election timeouts). Tests pass one to replay a
   * run; by default the shell draws one from the OS, so nodes restarted together do not
   * repeat the same timeouts (the seed is logged at info level).
   */
  seed?: number;
  /** Tick interval in ms. Default `raftTickMs` from the core. */
  tickMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** How committed entries are shown to CommittedLog readers. Default `decodeLogEntry`. */
  decode?: (entry: Entry) => LogEntry;
  /** Read barriers held at once. Default `limits.raftHostPendingReadsMax` (tests lower it). */
  pendingReadsMax?: number;
}

/** One Raft node running for real: timer, transport, fsync'd storage, Ready loop. */
export class RaftHost implements CommittedLog {
  readonly id: number;
  readonly #node: RaftNode;
  readonly #storage: HostStorage;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #tickMs: number;
  readonly #apply: (entries: readonly Entry[]) => void;
  readonly #restoreSnapshot: (snap: Snapshot) => void;
  readonly #decode: (entry: Entry) => LogEntry;
  readonly #proposals: ProposalTracker;
  readonly #reads: ReadTracker;
  /** Members' append acknowledgements: the leader's view of their logs (peers, promote). */
  readonly #acked = new AckedIndexes();
  /** The last membership change this host proposed ({0, 0}: none). */
  #confProposed = { index: 0, term: 0 };
  readonly #commitListeners = new Set<(commitIndex: number) => void>();
  readonly #unsubscribe: Array<() => void> = [];
  #appliedIndex: number;
  #leaderId = 0;
  #cancelTick: (() => void) | undefined;
  #readyScheduled = false;
  #state: 'created' | 'running' | 'closed' | 'failed' = 'created';
  #failure: unknown;

  constructor(options: RaftHostOptions) {
    assert(options.transport.id === options.config.id, 'transport belongs to another node');
    this.id = options.config.id;
    this.#storage = options.storage;
    this.#transport = options.transport;
    this.#clock = options.clock ?? realClock;
    this.#logger = (options.logger ?? silentLogger).child({ actor: 'raft', node: this.id });
    this.#tickMs = options.tickMs ?? raftTickMs;
    assert(this.#tickMs > 0, 'tickMs must be positive');
    this.#apply = options.apply ?? (() => {});
    this.#restoreSnapshot = options.restoreSnapshot ?? (() => {});
    this.#decode = options.decode ?? decodeLogEntry;
    this.#proposals = new ProposalTracker(this.#clock, limits.raftPendingProposalsMax);
    const pendingReadsMax = options.pendingReadsMax ?? limits.raftHostPendingReadsMax;
    assert(
      pendingReadsMax >= 1 && pendingReadsMax <= limits.raftHostPendingReadsMax,
      `pendingReadsMax ${pendingReadsMax}`,
    );
    // Request ids travel in heartbeats and come back in their answers; a random incarnation
    // keeps an answer meant for a previous run of this node from confirming a new read.
    const incarnation = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
    this.#reads = new ReadTracker(this.#clock, pendingReadsMax, `${this.id}.${incarnation}.`);
    const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.#logger.info('raft node created', { seed });
    this.#node = createRaft(options.config, options.storage, createPrng(seed));
    this.#appliedIndex = this.#node.status().applied;
  }

  /** Connects to the transport and starts ticking. */
  start(): void {
    assert(this.#state === 'created', `start() on a ${this.#state} host`);
    this.#state = 'running';
    this.#unsubscribe.push(this.#transport.onMessage((msg) => this.#handleMessage(msg)));
    this.#unsubscribe.push(
      this.#transport.onUnreachable((peer) =>
        this.#guard(() => this.#node.reportUnreachable(peer)),
      ),
    );
    this.#scheduleTick();
    this.#scheduleReady();
  }

  /** Stops the timer and the transport; pending proposals are rejected with `host_closed`. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#stop();
    this.#state = 'closed';
    const closed = new BerthError('host_closed', `raft node ${this.id} closed`);
    this.#proposals.rejectAll(closed);
    this.#reads.rejectAll(closed);
    await this.#transport.close();
  }

  /**
   * Proposes `data` (a normal entry) and resolves once it is committed and applied here.
   * Rejects with BerthError code `not_leader` (details.leaderHint: the leader's id, 0 if
   * unknown), `proposal_dropped`, `timeout` (outcome unknown: it may still commit) or
   * `host_closed`. A follower does not forward: forwarding and then failing would make a
   * caller that retries elsewhere commit the command twice; the caller (the API) forwards.
   */
  propose(data: string, options: { timeoutMs?: number } = {}): Promise<ProposalOutcome> {
    return this.#submit(() => this.#node.propose(data), options.timeoutMs);
  }

  /**
   * Fire-and-forget proposal for node-local actors (supervisor status transitions, node
   * reports) whose commands are idempotent: on the leader it proposes; on a follower the
   * core forwards the command to the leader over the peer transport. No outcome comes
   * back — the caller watches the committed state and proposes again if its command
   * does not show up, so a lost forward costs a retry and a duplicate costs nothing.
   */
  forward(data: string): 'proposed' | 'forwarded' | 'no_leader' | 'dropped' {
    if (this.#state !== 'running') return 'dropped';
    const status = this.#node.status();
    if (status.role === 'leader') {
      this.propose(data).catch(() => {});
      return 'proposed';
    }
    if (status.leaderId === 0) return 'no_leader';
    let result: ProposeResult | undefined;
    this.#guard(() => {
      result = this.#node.propose(data);
    });
    this.#scheduleReady();
    if (result && !result.ok && result.code === 'not_leader' && result.leaderHint !== 0)
      return 'forwarded';
    return result?.ok ? 'proposed' : 'dropped';
  }

  /** Proposes a single-server membership change; same results as `propose`. */
  proposeConfChange(
    cc: ConfChange,
    options: { timeoutMs?: number } = {},
  ): Promise<ProposalOutcome> {
    return this.#submit(() => this.#proposeConf(cc), options.timeoutMs);
  }

  /**
   * A linearizable read barrier (thesis §6.4, ReadIndex): resolves once this node's state
   * machine reflects every write acknowledged before the call, with the read index it
   * applied. Only the leader can confirm that; elsewhere it rejects with `not_leader`
   * (details.leaderHint, 0 if unknown) and the caller forwards. Also rejects with
   * `not_leader` when leadership is lost before the read is confirmed, `read_dropped`
   * (too many reads pending), `timeout` (e.g. no quorum answers), `host_closed`.
   */
  readBarrier(options: { timeoutMs?: number } = {}): Promise<ReadBarrierOutcome> {
    const timeoutMs = options.timeoutMs ?? readBarrierTimeoutMsDefault;
    assert(timeoutMs > 0 && timeoutMs <= limits.askTimeoutMsMax, `read timeout ${timeoutMs} ms`);
    if (this.#state !== 'running') {
      return Promise.reject(
        new BerthError('host_closed', `raft node ${this.id} is ${this.#state}`),
      );
    }
    const status = this.#node.status();
    if (status.role !== 'leader') return Promise.reject(notLeader(status.leaderId));
    if (this.#reads.isFull()) {
      return Promise.reject(new BerthError('read_dropped', 'too many read barriers pending'));
    }
    const outcome = this.#reads.wait(timeoutMs);
    // The round starts in the next Ready, so reads made in this turn share one heartbeat.
    this.#scheduleReady();
    return outcome;
  }

  /**
   * Adds `node` as a learner: it receives the log but neither votes nor counts for commit.
   * Resolves once the change is applied here. Rejects with `invalid_node_id`,
   * `already_member`, `node_retired` (removed ids never return), `membership_change_pending`
   * (another change is not applied yet, or a new leader has not committed in its term; retry
   * shortly), or any `propose` error.
   */
  addLearner(node: NodeId, options: { timeoutMs?: number } = {}): Promise<ProposalOutcome> {
    return this.#changeMembership({ op: 'add_learner', node }, options.timeoutMs);
  }

  /**
   * Makes learner `node` a voter. Rejects like `addLearner`, plus `already_voter`,
   * `peer_not_found` (not a member), `learner_lagging` (its acknowledged log trails the
   * leader's by more than `limits.raftPromoteLagEntriesMax` entries, or it has not
   * acknowledged anything in this term yet: promoting it now could stall commits).
   */
  promote(node: NodeId, options: { timeoutMs?: number } = {}): Promise<ProposalOutcome> {
    return this.#changeMembership({ op: 'promote', node }, options.timeoutMs);
  }

  /**
   * Removes `node` (voter or learner) for good: its id is retired and can never be added
   * again. Removing the leader itself is allowed; it steps down once the change commits.
   * Rejects like `addLearner`, plus `peer_not_found` and `last_voter`.
   */
  removeNode(node: NodeId, options: { timeoutMs?: number } = {}): Promise<ProposalOutcome> {
    return this.#changeMembership({ op: 'remove', node }, options.timeoutMs);
  }

  /**
   * Every member, voters then learners, in id order. On the leader each carries its match
   * index and lag, rebuilt from append acknowledgements (see PeerInfo and AckedIndexes).
   */
  peers(): PeerInfo[] {
    return listPeers(this.#node.status(), this.#acked);
  }

  /** Starts an election now (bootstrap, tests). */
  campaign(): void {
    this.#guard(() => this.#node.campaign());
    this.#scheduleReady();
  }

  /** Asks the leader to hand over leadership to `to`. */
  transferLeadership(to: number): void {
    this.#guard(() => this.#node.transferLeadership(to));
    this.#scheduleReady();
  }

  status(): RaftStatus {
    return this.#node.status();
  }

  /** The error that stopped this host, if it failed (storage error, assertion). */
  failure(): unknown {
    return this.#failure;
  }

  // ---- CommittedLog ----

  commitIndex(): number {
    return this.#appliedIndex;
  }

  /** At most `limits.logReadBatchMax` entries per call; readers loop up to commitIndex(). */
  read(fromIndex: number, max: number): LogEntry[] {
    assert(Number.isInteger(fromIndex) && fromIndex >= 1, `read from ${fromIndex}`);
    const lo = Math.max(fromIndex, this.#storage.firstIndex());
    const hi = Math.min(fromIndex + Math.min(max, limits.logReadBatchMax), this.#appliedIndex + 1);
    if (lo >= hi) return [];
    return this.#storage.entries(lo, hi).map(this.#decode);
  }

  firstIndex(): number {
    return this.#storage.firstIndex();
  }

  onCommit(fn: (commitIndex: number) => void): () => void {
    assert(this.#commitListeners.size < limits.logCommitListenersMax, 'too many commit listeners');
    this.#commitListeners.add(fn);
    return () => this.#commitListeners.delete(fn);
  }

  // ---- internals ----

  #changeMembership(cc: ConfChange, timeoutMs?: number): Promise<ProposalOutcome> {
    const status = this.#node.status();
    // Refusals the host can explain precisely are decided here; #submit handles the rest
    // (not leader, closed) and whatever the core still refuses comes back proposal_dropped.
    if (this.#state === 'running' && status.role === 'leader') {
      const refusal = this.#membershipPrecheck(cc, status);
      if (refusal) return Promise.reject(refusal);
    }
    return this.#submit(() => this.#proposeConf(cc), timeoutMs);
  }

  #membershipPrecheck(cc: ConfChange, status: RaftStatus): BerthError | null {
    const invalid = membershipRefusal(status.conf, cc);
    if (invalid) return invalid;
    if (cc.op === 'promote') {
      const matchIndex = leaderMatchIndex(status, this.#acked, cc.node);
      const lagging = promoteRefusal(cc.node, matchIndex, status.lastIndex);
      if (lagging) return lagging;
    }
    return pendingChangeRefusal({
      term: status.term,
      appliedIndex: this.#appliedIndex,
      appliedTerm: this.#termOrNull(this.#appliedIndex),
      lastProposed: this.#confProposed,
    });
  }

  /** Every membership proposal goes through here, so the pending-change check sees it. */
  #proposeConf(cc: ConfChange): ProposeResult {
    const result = this.#node.proposeConfChange(cc);
    if (result.ok) this.#confProposed = { index: result.index, term: result.term };
    return result;
  }

  #termOrNull(index: number): number | null {
    try {
      return this.#storage.term(index);
    } catch (error) {
      if (error instanceof RaftStorageError) return null;
      throw error;
    }
  }

  /** Starts one ReadIndex round for every read barrier queued since the last Ready. */
  #issueReads(): void {
    if (!this.#reads.hasQueued()) return;
    const status = this.#node.status();
    if (status.role !== 'leader') {
      this.#reads.rejectQueued(notLeader(status.leaderId));
      return;
    }
    const requestId = this.#reads.takeQueued(status.term);
    const result = this.#node.readIndex(requestId);
    if (result.ok) return;
    this.#reads.rejectRound(
      requestId,
      result.code === 'not_leader'
        ? notLeader(result.leaderHint)
        : new BerthError('read_dropped', result.reason),
    );
  }

  /** Rounds the core abandoned on a role or term change will never be confirmed. */
  #rejectAbandonedReads(): void {
    if (this.#reads.roundsConfirming() === 0) return;
    const status = this.#node.status();
    this.#reads.rejectConfirmingExcept(
      status.role === 'leader' ? status.term : null,
      notLeader(status.leaderId),
    );
  }

  #submit(
    propose: () => ProposeResult,
    timeoutMs = proposeTimeoutMsDefault,
  ): Promise<ProposalOutcome> {
    assert(timeoutMs > 0 && timeoutMs <= limits.askTimeoutMsMax, `propose timeout ${timeoutMs} ms`);
    if (this.#state !== 'running') {
      return Promise.reject(
        new BerthError('host_closed', `raft node ${this.id} is ${this.#state}`),
      );
    }
    const status = this.#node.status();
    if (status.role !== 'leader') return Promise.reject(notLeader(status.leaderId));
    if (this.#proposals.isFull()) {
      return Promise.reject(
        new BerthError('proposal_dropped', 'too many proposals waiting to commit'),
      );
    }
    const result = propose();
    if (!result.ok) {
      if (result.code === 'not_leader') return Promise.reject(notLeader(result.leaderHint));
      return Promise.reject(new BerthError('proposal_dropped', result.reason));
    }
    this.#scheduleReady();
    return this.#proposals.track(result.index, result.term, timeoutMs);
  }

  #handleMessage(msg: RaftMessage): void {
    if (this.#state !== 'running') return;
    if (msg.to !== this.id) {
      this.#logger.warn('dropped a message addressed to another node', {
        to: msg.to,
        type: msg.type,
      });
      return;
    }
    if (msg.type === 'append_resp' && msg.success) {
      this.#acked.note(msg.from, msg.term, msg.index, () =>
        isMember(this.#node.status().conf, msg.from),
      );
    }
    this.#guard(() => this.#node.step(msg));
    this.#scheduleReady();
  }

  #scheduleTick(): void {
    this.#cancelTick = this.#clock.setTimer(this.#tickMs, () => {
      if (this.#state !== 'running') return;
      this.#guard(() => this.#node.tick());
      this.#scheduleReady();
      if (this.#state === 'running') this.#scheduleTick();
    });
  }

  #scheduleReady(): void {
    if (this.#readyScheduled || this.#state !== 'running') return;
    this.#readyScheduled = true;
    queueMicrotask(() => {
      this.#readyScheduled = false;
      this.#guard(() => this.#processReady());
    });
  }

  /** Runs Ready batches until none is left (bounded; the rest goes to the next microtask). */
  #processReady(): void {
    const appliedBefore = this.#appliedIndex;
    this.#issueReads();
    for (let round = 0; round < limits.raftReadyRoundsMax; round++) {
      if (this.#state !== 'running' || !this.#node.hasReady()) break;
      this.#handleReady(this.#node.ready());
    }
    if (this.#state === 'running' && this.#node.hasReady()) this.#scheduleReady();
    if (this.#state === 'running') this.#rejectAbandonedReads();
    if (this.#appliedIndex > appliedBefore) {
      for (const fn of this.#commitListeners) fn(this.#appliedIndex);
    }
  }

  #handleReady(rd: Ready): void {
    if (rd.softState && rd.softState.leaderId !== this.#leaderId) {
      this.#leaderId = rd.softState.leaderId;
      this.#logger.info('leader changed', { leader: this.#leaderId, role: rd.softState.role });
    }
    // 1. Durable first: one transaction, fsync'd by synchronous=FULL before it returns.
    // A Ready that commits a membership change also makes its commit index durable: the
    // membership is rebuilt on restart by replaying committed config entries, so a commit
    // index rolled back past a change would restart the node an unknown distance behind.
    const commitsConfig = rd.committedEntries.some((e) => e.kind === 'config');
    this.#storage.persistReady(commitsConfig ? { ...rd, mustSync: true } : rd);
    if (rd.snapshot) {
      this.#restoreSnapshot(rd.snapshot);
      this.#proposals.coveredBySnapshot(rd.snapshot.meta.index);
      this.#appliedIndex = Math.max(this.#appliedIndex, rd.snapshot.meta.index);
    }
    // 2. Only now may votes and acknowledgements that depend on it leave the node.
    this.#transport.send(rd.messages);
    // 3. Apply what is committed.
    if (rd.committedEntries.length > 0) {
      this.#apply(rd.committedEntries);
      this.#appliedIndex = rd.committedEntries[rd.committedEntries.length - 1]!.index;
      this.#proposals.applied(rd.committedEntries);
      // The core changed its membership while handing these out. Storage needs no copy:
      // a restart starts from the latest snapshot's membership and replays the committed
      // config entries after it (etcd's model); `setConf` is for bootstrap only.
      if (commitsConfig) this.#acked.retain(this.#node.status().conf);
    }
    // Reads the core confirmed now wait for (or already have) their index applied here.
    this.#reads.confirmed(rd.readStates, this.#appliedIndex);
    // 4. Tell the core all of it is done.
    this.#node.advance(rd);
  }

  /**
   * Runs core or storage work; an exception there (a storage failure, a corrupt row, an
   * assertion) is fatal for this node: it stops, as a crashed actor would, and its pending
   * proposals fail. Restarting from disk is the supervisor's job.
   */
  #guard(fn: () => void): void {
    if (this.#state !== 'running') return;
    try {
      fn();
    } catch (error) {
      this.#failure = error;
      this.#stop();
      this.#state = 'failed';
      this.#logger.error('raft node stopped', { error: String(error) });
      const failed = new BerthError('host_failed', `raft node ${this.id} failed: ${String(error)}`);
      this.#proposals.rejectAll(failed);
      this.#reads.rejectAll(failed);
    }
  }

  #stop(): void {
    this.#cancelTick?.();
    this.#cancelTick = undefined;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }
}

function notLeader(leaderHint: number): BerthError {
  return new BerthError('not_leader', 'this node is not the leader', { leaderHint });
}
