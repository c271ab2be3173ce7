/**
 * A Raft cluster in the simulator: the real core (actors/leader-election) on every
 * node, MemoryStorage as the disk, the seeded network and nemesis around it, a client
 * that proposes commands to whichever node it picks, and an operator that changes the
 * membership one server at a time during the faults. RaftChecker watches every step.
 *
 * Disk model. A node's durable state is exactly what its Ready loop wrote to its
 * MemoryStorage. Each Ready is first put in `unsynced` and flushed to the storage when
 * its fsync completes, after a seed-derived delay (0 means at once); only then are the
 * Ready's messages sent (persist before send, DESIGN.md §3). A crash drops `unsynced`.
 * The `ackBeforePersist` switch breaks exactly that order — messages leave before the
 * fsync — to show the checker catches an acknowledgement of state that a crash loses.
 */
import {
  type ConfChange,
  type ConfState,
  createRaft,
  defaultRaftConfig,
  type Entry,
  type HardState,
  MemoryStorage,
  type NodeId,
  type RaftConfig,
  type RaftMessage,
  type RaftNode,
  type Ready,
  raftTickMs,
  type Snapshot,
} from '../../actors/leader-election/index.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { Prng } from '../core/prng.ts';
import type { RaftChecker } from './raft-checker.ts';
import type { NodeContext, SimProcess, Simulator } from './simulator.ts';

/** One Ready's writes, waiting for their fsync. */
export interface UnsyncedWrite {
  snapshot: Snapshot | undefined;
  entries: Entry[];
  hardState: HardState | undefined;
}

/** What survives a crash (storage) and what does not (unsynced). */
export interface RaftDisk {
  storage: MemoryStorage;
  unsynced: UnsyncedWrite[];
}

export type RaftSim = Simulator<RaftMessage, RaftDisk, RaftSimNode>;

/** Harness-level switches that break the Ready loop on purpose (checker self-tests). */
export interface HarnessBugs {
  /** Send a Ready's messages before its writes are durable. */
  ackBeforePersist?: boolean;
}

/** How the cluster treats each node; shared by every node of one run. */
export interface ClusterHooks {
  readonly checker: RaftChecker;
  readonly bugs: HarnessBugs;
  /** Simulated fsync latency in ms (0: persisted within the same event). */
  readonly fsyncDelayMs: number;
  /**
   * Take a snapshot and compact the log every this many applied entries (0: never), so
   * lagging and joining nodes get InstallSnapshot. `snapshotKeepEntries` stay behind it.
   */
  readonly snapshotEveryEntries: number;
  readonly snapshotKeepEntries: number;
  raftConfig(id: NodeId): RaftConfig;
  /** Called for each committed entry a node applies, after the checker saw it. */
  onApplied(id: NodeId, entry: Entry): void;
}

/**
 * One boot of a simulated Raft node: the core plus its Ready loop. Its volatile state
 * (the core, the applied sequence, a pending fsync) dies with it at a crash.
 */
export class RaftSimNode implements SimProcess<RaftMessage> {
  readonly raft: RaftNode;
  /** Applied command payloads, index i at position i-1 (rebuilt from the log after a restart). */
  readonly applied: string[] = [];
  #syncing = false;
  /** The node's current term as of the last Ready (hard state), for the checker. */
  #term: number;
  readonly #ctx: NodeContext<RaftMessage>;
  readonly #disk: RaftDisk;
  readonly #hooks: ClusterHooks;

  constructor(ctx: NodeContext<RaftMessage>, disk: RaftDisk, hooks: ClusterHooks, tickMs: number) {
    this.#ctx = ctx;
    this.#disk = disk;
    this.#hooks = hooks;
    this.raft = createRaft(hooks.raftConfig(ctx.id), disk.storage, ctx.prng);
    this.#term = disk.storage.initialState().hardState.term;
    this.#restoreFromSnapshot(disk.storage.snapshot());
    const tickLoop = () => {
      this.raft.tick();
      this.drain();
      ctx.setTimer(tickMs, 'tick', tickLoop);
    };
    ctx.setTimer(tickMs, 'tick', tickLoop);
  }

  get id(): NodeId {
    return this.#ctx.id;
  }

  receive(_from: NodeId, msg: RaftMessage): void {
    this.raft.step(msg);
    this.drain();
  }

  /** Runs the Ready loop until the core has nothing more, or an fsync is in progress. */
  drain(): void {
    for (let round = 0; round < limits.simReadyRoundsMax; round++) {
      if (this.#syncing || !this.raft.hasReady()) return;
      this.#handleReady(this.raft.ready());
    }
  }

  #handleReady(rd: Ready): void {
    if (rd.hardState) this.#term = rd.hardState.term;
    const term = this.#term;
    const becameLeader = rd.softState?.role === 'leader';
    if (rd.softState) {
      const c = this.raft.status().conf;
      this.#ctx.trace(
        `${rd.softState.role} t${term} leader=${rd.softState.leaderId} voters=[${c.voters}] learners=[${c.learners}]`,
      );
    }
    if (becameLeader) this.#hooks.checker.onLeader(this.id, term, 'role');
    const write: UnsyncedWrite = {
      snapshot: rd.snapshot,
      entries: rd.entries,
      hardState: rd.hardState,
    };
    this.#disk.unsynced.push(write);
    if (this.#hooks.bugs.ackBeforePersist) this.#send(rd.messages);
    const finish = () => {
      this.#flush();
      if (becameLeader) this.#hooks.checker.onBecameLeader(this.id, term, this.#disk.storage);
      if (!this.#hooks.bugs.ackBeforePersist) this.#send(rd.messages);
      this.#apply(rd.committedEntries, term);
      this.raft.advance(rd);
      this.#maybeSnapshot();
    };
    if (this.#hooks.fsyncDelayMs === 0) {
      finish();
      return;
    }
    this.#syncing = true;
    this.#ctx.setTimer(this.#hooks.fsyncDelayMs, 'fsync', () => {
      this.#syncing = false;
      finish();
      this.drain();
    });
  }

  /** The fsync completed: everything unsynced becomes durable, in order. */
  #flush(): void {
    const { storage } = this.#disk;
    for (const w of this.#disk.unsynced.splice(0)) {
      if (w.snapshot) {
        storage.applySnapshot(w.snapshot);
        this.#restoreFromSnapshot(w.snapshot);
      }
      storage.append(w.entries);
      if (w.hardState) storage.setHardState(w.hardState);
      this.#hooks.checker.onPersisted(this.id, w.entries, storage);
    }
  }

  #send(messages: RaftMessage[]): void {
    for (const m of messages) {
      this.#hooks.checker.onSend(m);
      this.#ctx.send(m.to, m);
    }
  }

  /** Applies committed entries; `term` is the node's term in the Ready that handed them out. */
  #apply(entries: Entry[], term: number): void {
    for (const e of entries) {
      const value = appliedValue(e);
      if (e.index <= this.applied.length) {
        // A replay below our cursor (the core resumes at the snapshot we restored, so
        // this should not happen; a driver must still tolerate it): like an actor's
        // cursor, skip it — but it must be the entry we applied there.
        if (this.applied[e.index - 1] !== value) {
          this.#hooks.checker.fail(
            'state_machine_safety',
            `node ${this.id} replayed ${value} at ${e.index}, had applied ${this.applied[e.index - 1]}`,
          );
        }
        continue;
      }
      this.#hooks.checker.onApplied(this.id, e, this.applied.length, term);
      this.applied.push(value);
      this.#hooks.onApplied(this.id, e);
    }
  }

  /**
   * Snapshots the state machine at the applied index when enough entries were applied
   * since the last one. Runs after advance, when the core's conf is the applied one.
   */
  #maybeSnapshot(): void {
    const every = this.#hooks.snapshotEveryEntries;
    const { storage } = this.#disk;
    const index = this.applied.length;
    if (every === 0 || index - storage.snapshot().meta.index < every) return;
    if (index > storage.lastIndex() || this.#disk.unsynced.length > 0) return;
    const data = new TextEncoder().encode(JSON.stringify(this.applied));
    storage.createSnapshot(index, this.raft.status().conf, data);
    const compactTo = index - this.#hooks.snapshotKeepEntries;
    if (compactTo >= storage.firstIndex()) storage.compact(compactTo);
  }

  /** A snapshot's data is the applied sequence up to its index (JSON), so a node can resume from it. */
  #restoreFromSnapshot(snap: Snapshot): void {
    if (snap.meta.index === 0) return;
    const seq = JSON.parse(new TextDecoder().decode(snap.data)) as string[];
    assert(seq.length === snap.meta.index, 'snapshot data must hold every applied entry');
    this.applied.splice(0, this.applied.length, ...seq);
  }
}

/** What the simulated state machine records for an applied entry. */
function appliedValue(e: Entry): string {
  return e.kind === 'normal' ? e.data : `${e.kind}@${e.term}`;
}

/** Creates the disk of an initial voter: conf lists the initial voters, hard state at term 0. */
export function bootstrapDisk(voters: NodeId[]): RaftDisk {
  const storage = new MemoryStorage();
  storage.setConf({ voters: [...voters], learners: [] });
  return { storage, unsynced: [] };
}

/** The seed-derived Raft config of node `id`, with optional test-only bug switches. */
export function simRaftConfig(
  id: NodeId,
  bugs: RaftConfig['testBugs'] | undefined,
  tuning: RaftTuning = {},
): RaftConfig {
  const base = { ...defaultRaftConfig(id), ...tuning };
  return bugs ? { ...base, testBugs: bugs } : base;
}

/** The replication knobs a seed may vary; timings stay at the defaults. */
export type RaftTuning = Partial<Pick<RaftConfig, 'maxEntriesPerMsg' | 'maxInflightMsgs'>>;

/**
 * Draws replication knobs from the seed. Small batches and windows matter: they are what
 * lets an old-term entry reach a quorum in one message and the new leader's no-op miss it
 * in the next (Raft §5.4.2, Figure 8), which big batches hide.
 */
export function deriveRaftTuning(prng: Prng): RaftTuning {
  if (prng.chance(0.4)) return {};
  return {
    maxEntriesPerMsg: prng.pick([1, 1, 2, 4, 16]),
    maxInflightMsgs: prng.pick([1, 2, 8, 64]),
  };
}

/** The simulated tick interval of node `id`: the driver's tick, with the node's clock drift. */
export function nodeTickMs(prng: Prng, driftMax: number): number {
  return raftTickMs * (1 + (prng.next() * 2 - 1) * driftMax);
}

/** Who leads now: the up node that thinks it is leader with the highest term. */
export function findLeader(sim: RaftSim, ids: readonly NodeId[]): RaftSimNode | undefined {
  let best: RaftSimNode | undefined;
  let bestTerm = -1;
  for (const id of ids) {
    const p = sim.process(id);
    if (!p) continue;
    const s = p.raft.status();
    if (s.role === 'leader' && s.term > bestTerm) {
      best = p;
      bestTerm = s.term;
    }
  }
  return best;
}

/** The conf change an operator makes next, or undefined when done. One at a time. */
export function nextConfChange(
  conf: ConfState,
  votersTarget: number,
  newNodeId: () => NodeId | undefined,
  prng: Prng,
): ConfChange | undefined {
  const learner = conf.learners[0];
  if (learner !== undefined) return { op: 'promote', node: learner };
  if (conf.voters.length > votersTarget) return { op: 'remove', node: prng.pick(conf.voters) };
  const id = newNodeId();
  return id === undefined ? undefined : { op: 'add_learner', node: id };
}

const messageTypeCodes: Record<RaftMessage['type'], number> = {
  vote: 1,
  vote_resp: 2,
  append: 3,
  append_resp: 4,
  heartbeat: 5,
  heartbeat_resp: 6,
  snapshot: 7,
  snapshot_resp: 8,
  timeout_now: 9,
  forward: 10,
};

/** A number summarising a message for the trace hash: type, term and log position. */
export function fingerprintRaftMessage(m: RaftMessage): number {
  let position = 0;
  if (m.type === 'append') position = m.prevIndex * 64 + m.entries.length;
  else if (m.type === 'append_resp') position = m.index * 2 + (m.success ? 1 : 0);
  else if (m.type === 'vote_resp') position = m.granted ? 1 : 0;
  return messageTypeCodes[m.type] + 16 * (m.term + 1024 * position);
}

/** Describes a message in a trace line (cheap: this runs for every message). */
export function describeRaftMessage(m: RaftMessage): string {
  switch (m.type) {
    case 'append':
      return `append t${m.term} p${m.prevIndex}/${m.prevTerm} n${m.entries.length} c${m.commit}`;
    case 'append_resp':
      return `append_resp t${m.term} ${m.success ? 'ok' : 'rej'} i${m.index}`;
    case 'vote':
      return `${m.pre ? 'prevote' : 'vote'} t${m.term} l${m.lastIndex}/${m.lastTerm}`;
    case 'vote_resp':
      return `${m.pre ? 'prevote' : 'vote'}_resp t${m.term} ${m.granted ? 'yes' : 'no'}`;
    default:
      return `${m.type} t${m.term}`;
  }
}
