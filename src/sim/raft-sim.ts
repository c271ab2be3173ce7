/**
 * One seeded Raft simulation run: five voters under the seed's faults, a client and a
 * membership operator acting during the faults, then a calm phase that must elect a
 * leader and commit a probe (liveness), then the end-of-run checks. Returns a
 * SeedOutcome; a violation names the invariant (see raft-checker.ts).
 */
import type { ConfState, NodeId, RaftConfig } from '../../actors/leader-election/index.ts';
import { raftTickMs } from '../../actors/leader-election/index.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { Prng } from '../core/prng.ts';
import { createPrng } from '../core/prng.ts';
import { deriveFaultConfig, type FaultConfig, formatFaultHeader } from './fault-config.ts';
import { type ExtraNemesisAction, startNemesis } from './nemesis.ts';
import { RaftChecker } from './raft-checker.ts';
import {
  bootstrapDisk,
  type ClusterHooks,
  deriveRaftTuning,
  describeRaftMessage,
  findLeader,
  fingerprintRaftMessage,
  type HarnessBugs,
  nextConfChange,
  nodeTickMs,
  type RaftDisk,
  type RaftSim,
  RaftSimNode,
  type RaftTuning,
  simRaftConfig,
} from './raft-cluster.ts';
import type { SeedOutcome } from './runner.ts';
import { Simulator } from './simulator.ts';

export interface RaftSimOptions {
  /** Initial voters (default 5). */
  voters?: number;
  /** Length of the fault phase, in ticks of raftTickMs (default 300). */
  faultTicks?: number;
  /**
   * Ticks allowed after the faults end for a leader to commit a probe, and again for
   * every member to apply it (default 100; 400 with tiny batches and windows, where a
   * backlog of entries drains one message per round trip).
   */
  livenessTicksMax?: number;
  /** Core protocol breakers, passed to every node's RaftConfig. */
  coreBugs?: RaftConfig['testBugs'];
  harnessBugs?: HarnessBugs;
  /** Membership changes during faults (default true). */
  membership?: boolean;
  /** Replaces the seed-derived fsync latency, in ms. */
  fsyncDelayMs?: number;
  /** Replaces the seed-derived replication knobs (batch size, window). */
  tuning?: RaftTuning;
  /** Replaces the seed-derived weight of the leader-targeted nemesis actions. */
  leaderFaultWeight?: number;
  /** Seed-derived snapshots and log compaction (default true; false turns them off). */
  snapshots?: boolean;
  /** Joiners start with an empty conf instead of the leader's (demonstrates a bootstrap hazard). */
  joinWithEmptyConf?: boolean;
  /** Replaces the seed-derived fault mix (tests of the harness itself). */
  faults?: FaultConfig;
  /** Trace lines to keep (default 0: only the hash; a failed seed is re-run with lines). */
  traceLinesMax?: number;
  /** Receives every trace line as it happens (verbose replay of one seed). */
  onTraceLine?: (line: string) => void;
}

/** Figures of one run, for reports and for tests that the run did something. */
export interface RaftRunStats {
  leaders: number;
  committed: number;
  acked: number;
  proposals: number;
  confChanges: number;
  nemesis: Record<string, number>;
}

export interface RaftSeedOutcome extends SeedOutcome {
  stats: RaftRunStats;
}

interface RunState {
  sim: RaftSim;
  checker: RaftChecker;
  prng: Prng;
  members: Set<NodeId>;
  retired: Set<NodeId>;
  /** A node whose add_learner is proposed but not yet seen committed. */
  joining: NodeId | undefined;
  pending: Map<string, number>;
  nextNodeId: NodeId;
  joinsLeft: number;
  proposals: number;
  confChanges: number;
  probeIndex: number | undefined;
  faultEndMs: number;
  joinWithEmptyConf: boolean;
}

/**
 * Runs one seed to completion and reports the first violation, if any. Runs keep only
 * the trace hash (fast); a failed seed is run again with lines kept, which replays it
 * exactly, so its report carries the tail of the trace.
 */
export function runRaftSeed(seed: number, options: RaftSimOptions = {}): RaftSeedOutcome {
  const outcome = runRaftSeedOnce(seed, options);
  if (!outcome.violation || outcome.traceTail.length > 0) return outcome;
  const replay = runRaftSeedOnce(seed, { ...options, traceLinesMax: limits.simTraceLinesMax });
  assert(replay.traceHash === outcome.traceHash, `seed ${seed} did not replay identically`);
  return replay;
}

/** Everything one run is configured with, drawn from the seed unless an option fixes it. */
interface RunSettings {
  faults: FaultConfig;
  fsyncDelayMs: number;
  voters: number;
  tuning: RaftTuning;
  leaderFaultWeight: number;
  snapshotEveryEntries: number;
  snapshotKeepEntries: number;
}

/** Draws the run's settings from the seed (always in the same order, so a seed keeps its meaning). */
function deriveRunSettings(seed: number, options: RaftSimOptions): RunSettings {
  const seedPrng = createPrng(seed);
  const faults = options.faults ?? deriveFaultConfig(seedPrng);
  const derivedFsyncDelayMs = options.harnessBugs?.ackBeforePersist
    ? seedPrng.int(1, 6)
    : seedPrng.chance(0.5)
      ? 0
      : seedPrng.int(1, 6);
  const derivedTuning = deriveRaftTuning(seedPrng);
  const derivedLeaderFaultWeight = seedPrng.int(0, 4);
  const snapshotsDrawn = !seedPrng.chance(0.5);
  const snapshotEveryEntries = snapshotsDrawn ? seedPrng.int(5, 40) : 0;
  return {
    faults,
    fsyncDelayMs: options.fsyncDelayMs ?? derivedFsyncDelayMs,
    voters: options.voters ?? 5,
    tuning: options.tuning ?? derivedTuning,
    leaderFaultWeight: options.leaderFaultWeight ?? derivedLeaderFaultWeight,
    snapshotEveryEntries: options.snapshots === false ? 0 : snapshotEveryEntries,
    snapshotKeepEntries: seedPrng.int(0, 10),
  };
}

function formatRunHeader(seed: number, r: RunSettings): string {
  return [
    formatFaultHeader(seed, r.faults),
    `leaderFaults=${r.leaderFaultWeight}`,
    `fsync=${r.fsyncDelayMs}ms`,
    `snapshotEvery=${r.snapshotEveryEntries}+${r.snapshotKeepEntries}`,
    `batch=${r.tuning.maxEntriesPerMsg ?? 'default'}`,
    `window=${r.tuning.maxInflightMsgs ?? 'default'}`,
    `voters=${r.voters}`,
  ].join(' ');
}

function runRaftSeedOnce(seed: number, options: RaftSimOptions): RaftSeedOutcome {
  const settings = deriveRunSettings(seed, options);
  const { faults, fsyncDelayMs, voters, tuning } = settings;
  const sim: RaftSim = new Simulator({
    seed,
    faults,
    describe: describeRaftMessage,
    fingerprint: fingerprintRaftMessage,
    traceLinesMax: options.traceLinesMax ?? 0,
    onTraceLine: options.onTraceLine,
  });
  const checker = new RaftChecker(() => sim.nowMs());
  const faultEndMs = (options.faultTicks ?? 300) * raftTickMs;
  const st: RunState = {
    sim,
    checker,
    prng: sim.prng.fork(),
    members: new Set(),
    retired: new Set(),
    joining: undefined,
    pending: new Map(),
    nextNodeId: voters + 1,
    joinsLeft: options.membership === false ? 0 : 2,
    proposals: 0,
    confChanges: 0,
    probeIndex: undefined,
    faultEndMs,
    joinWithEmptyConf: options.joinWithEmptyConf ?? false,
  };
  const hooks: ClusterHooks = {
    checker,
    bugs: options.harnessBugs ?? {},
    fsyncDelayMs,
    snapshotEveryEntries: settings.snapshotEveryEntries,
    snapshotKeepEntries: settings.snapshotKeepEntries,
    raftConfig: (id) => simRaftConfig(id, options.coreBugs, tuning),
    onApplied: (id, entry) => onApplied(st, id, entry),
  };
  const initial = Array.from({ length: voters }, (_, i) => i + 1);
  for (const id of initial) addRaftNode(st, hooks, id, bootstrapDisk(initial));
  const nemesis = startNemesis(sim, {
    targets: () => [...st.members].filter((id) => !st.retired.has(id)),
    untilMs: faultEndMs,
    downMax: Math.floor((voters - 1) / 2) + 1,
    extra: leaderFaults(st, settings.leaderFaultWeight),
  });
  startClient(st);
  if (st.joinsLeft > 0) startOperator(st, hooks);
  const header = formatRunHeader(seed, settings);
  options.onTraceLine?.(header);
  runToEnd(
    st,
    (backlog) =>
      options.livenessTicksMax ?? livenessTicksFor(tuning, backlog, fsyncDelayMs, faults),
  );
  return {
    seed,
    header,
    violation: checker.violation,
    traceHash: sim.trace.hash(),
    traceTail: sim.trace.tail(limits.simTraceLinesMax),
    eventsRun: sim.eventsRun,
    simulatedMs: sim.nowMs(),
    stats: {
      leaders: checker.leaders.size,
      committed: checker.committedCount,
      acked: checker.ackedCount,
      proposals: st.proposals,
      confChanges: st.confChanges,
      nemesis,
    },
  };
}

/**
 * Faults aimed at the leader, where the interesting Raft histories start (Figure 8 needs
 * leaders to fail mid-replication): crash it, or cut it off with at most a minority.
 */
function leaderFaults(st: RunState, weight: number): ExtraNemesisAction[] {
  const { sim } = st;
  const downMax = Math.floor((st.members.size - 1) / 2) + 1;
  return [
    {
      name: 'crash_leader',
      weight,
      run: () => {
        const leader = findLeader(sim, liveMembers(st));
        const down = liveMembers(st).filter((id) => !sim.isUp(id)).length;
        if (!leader || down >= downMax) return false;
        sim.crash(leader.id);
        return true;
      },
    },
    {
      name: 'isolate_leader',
      weight,
      run: () => {
        const leader = findLeader(sim, liveMembers(st));
        if (!leader) return false;
        const others = liveMembers(st).filter((id) => id !== leader.id);
        const buddies = others.filter(() => st.prng.chance(0.25)).slice(0, 1);
        sim.network.heal();
        sim.network.partition(
          [leader.id, ...buddies],
          others.filter((id) => !buddies.includes(id)),
        );
        sim.trace.record(sim.nowMs(), `nemesis isolate leader ${leader.id} with [${buddies}]`);
        return true;
      },
    },
  ];
}

/**
 * Ticks every member gets to apply the probe once it committed. Generous: a node that
 * restarted at the end may need the whole log again, one small batch per round trip
 * through a lossy network.
 */
const catchUpTicksMax = 600;

/**
 * Ticks allowed after the faults end for a leader to commit the probe: 100 for the
 * election and the probe itself, plus time to replicate the uncommitted backlog the
 * leaders accumulated — one window of entries per round trip, doubled for loss. With
 * small batches and windows a few hundred queued commands take seconds to drain, which
 * is slow but not a liveness failure.
 */
function livenessTicksFor(
  tuning: RaftTuning,
  backlogEntries: number,
  fsyncDelayMs: number,
  faults: FaultConfig,
): number {
  const perRoundTrip = (tuning.maxEntriesPerMsg ?? 64) * (tuning.maxInflightMsgs ?? 64);
  const roundTripMs =
    2 * (faults.delayMsMax + faults.reorderDelayMsMax * faults.reorderRate + fsyncDelayMs);
  const roundTripTicks = Math.ceil(roundTripMs / raftTickMs) + 1;
  return 100 + 2 * Math.ceil(backlogEntries / perRoundTrip) * roundTripTicks;
}

function addRaftNode(st: RunState, hooks: ClusterHooks, id: NodeId, disk: RaftDisk): void {
  const tickMs = nodeTickMs(st.prng, st.sim.faults.tickDriftMax);
  st.members.add(id);
  st.sim.addNode(id, {
    disk,
    boot: (ctx, d) => new RaftSimNode(ctx, d, hooks, tickMs),
    loseVolatile: (d) => {
      d.unsynced.length = 0;
    },
  });
}

function liveMembers(st: RunState): NodeId[] {
  return [...st.members].filter((id) => !st.retired.has(id));
}

/** Runs the fault phase, then the calm phase until a probe commits everywhere, then the final checks. */
function runToEnd(st: RunState, livenessTicksFor: (backlogEntries: number) => number): void {
  const { sim, checker } = st;
  const stop = () => checker.violation !== undefined;
  runUntilOr(sim, st.faultEndMs, stop);
  const livenessTicksMax = livenessTicksFor(uncommittedBacklog(st));
  if (stop()) return;
  const deadlineMs = st.faultEndMs + livenessTicksMax * raftTickMs;
  probeLoop(st);
  runUntilOr(sim, deadlineMs, () => stop() || st.probeIndex !== undefined);
  if (stop()) return;
  if (st.probeIndex === undefined) {
    checker.fail(
      'liveness',
      `no leader committed a probe within ${livenessTicksMax} ticks after faults ended: ${describeMembers(sim, liveMembers(st))}`,
    );
    return;
  }
  const probeIndex = st.probeIndex;
  const confMembers = () => {
    const conf = findLeader(sim, liveMembers(st))?.raft.status().conf;
    return conf ? [...conf.voters, ...conf.learners] : liveMembers(st);
  };
  // Forwarded client commands may still commit after the probe; wait for those too.
  const caughtUp = () => {
    const target = Math.max(probeIndex, checker.ackedIndexMax);
    return confMembers().every((id) => (sim.process(id)?.applied.length ?? 0) >= target);
  };
  runUntilOr(sim, sim.nowMs() + catchUpTicksMax * raftTickMs, () => stop() || caughtUp());
  if (stop()) return;
  if (!caughtUp()) {
    checker.fail(
      'liveness',
      `members did not all apply the probe at ${probeIndex} (and acked entries up to ${checker.ackedIndexMax}) within ${catchUpTicksMax} ticks: ${describeMembers(sim, confMembers())}`,
    );
    return;
  }
  const applied = new Map(confMembers().map((id) => [id, sim.process(id)?.applied ?? []]));
  checker.checkAckedPresent(applied);
}

/** Entries some node holds beyond the highest commit index: what must replicate before the probe. */
function uncommittedBacklog(st: RunState): number {
  let lastMax = 0;
  let commitMax = 0;
  for (const id of liveMembers(st)) {
    const storage = st.sim.disk(id).storage;
    lastMax = Math.max(lastMax, storage.lastIndex());
    commitMax = Math.max(commitMax, storage.initialState().hardState.commit);
  }
  return Math.max(0, lastMax - commitMax);
}

/** Each member's view, for liveness failure reports. */
function describeMembers(sim: RaftSim, ids: NodeId[]): string {
  return ids
    .map((id) => {
      const p = sim.process(id);
      if (!p) return `${id}:down`;
      const s = p.raft.status();
      return `${id}:${s.role} t${s.term} commit=${s.commit} applied=${p.applied.length} last=${s.lastIndex} first=${sim.disk(id).storage.firstIndex()}`;
    })
    .join(', ');
}

function runUntilOr(sim: RaftSim, untilMs: number, done: () => boolean): void {
  while (!done()) {
    const before = sim.eventsRun;
    sim.runUntil(Math.min(untilMs, sim.nowMs() + raftTickMs));
    if (sim.nowMs() >= untilMs || (sim.eventsRun === before && sim.nowMs() >= untilMs)) break;
  }
}

function onApplied(
  st: RunState,
  id: NodeId,
  entry: { index: number; kind: string; data: string },
): void {
  if (entry.kind === 'config') {
    onConfigApplied(st, entry.data);
    return;
  }
  if (entry.kind !== 'normal') return;
  if (st.pending.delete(entry.data)) st.checker.onAcked(entry.data, entry.index);
  if (entry.data === 'probe' && st.probeIndex === undefined) {
    const leader = findLeader(st.sim, liveMembers(st));
    if (leader?.id === id) st.probeIndex = entry.index;
  }
}

/** Proposes client commands to random up nodes every few ticks during the fault phase. */
function startClient(st: RunState): void {
  const { sim } = st;
  const intervalMs = st.prng.int(20, 200);
  let seq = 0;
  const loop = () => {
    if (sim.nowMs() >= st.faultEndMs) return;
    if (st.pending.size < limits.simPendingProposalsMax) submit(st, `c${++seq}`, 0);
    sim.schedule(intervalMs, 'client', loop);
  };
  sim.schedule(intervalMs, 'client', loop);
}

/**
 * Proposes `data` at a random up node. `ok` (appended on the leader) and `not_leader`
 * with a hint (forwarded to it) both leave the command waiting for its commit; with no
 * leader known nothing was sent, so the client retries elsewhere a little later, a
 * bounded number of times.
 */
function submit(st: RunState, data: string, attempt: number): void {
  const { sim } = st;
  if (sim.nowMs() >= st.faultEndMs) return;
  const up = liveMembers(st).filter((id) => sim.isUp(id));
  const node = up.length > 0 ? sim.process(st.prng.pick(up)) : undefined;
  const result = node?.raft.propose(data);
  st.proposals++;
  node?.drain();
  if (result && (result.ok || (result.code === 'not_leader' && result.leaderHint !== 0))) {
    st.pending.set(data, sim.nowMs());
  } else if (attempt + 1 < limits.simProposalAttemptsMax) {
    sim.schedule(raftTickMs * 2, 'client retry', () => submit(st, data, attempt + 1));
  }
}

/** After the faults: propose a probe to the leader each tick until one commits. */
function probeLoop(st: RunState): void {
  const { sim } = st;
  const loop = () => {
    if (st.probeIndex !== undefined) return;
    const leader = findLeader(sim, liveMembers(st));
    if (leader) {
      leader.raft.propose('probe');
      leader.drain();
    }
    sim.schedule(raftTickMs, 'probe', loop);
  };
  sim.schedule(0, 'probe', loop);
}

/**
 * Adds learners, promotes them and removes voters, one change at a time, during the
 * faults. A joiner whose add_learner never committed is proposed again with the same
 * id (it was never admitted, so the id is not retired).
 */
function startOperator(st: RunState, hooks: ClusterHooks): void {
  const { sim } = st;
  const votersTarget = st.members.size;
  const intervalMs = st.prng.int(200, 1_500);
  const loop = () => {
    if (sim.nowMs() >= st.faultEndMs) return;
    const leader = findLeader(sim, liveMembers(st));
    if (leader) {
      const conf = leader.raft.status().conf;
      const joining = st.joining;
      const cc =
        joining !== undefined
          ? ({ op: 'add_learner', node: joining } as const)
          : nextConfChange(
              conf,
              votersTarget,
              () => (st.joinsLeft > 0 ? st.nextNodeId : undefined),
              st.prng,
            );
      if (cc && leader.raft.proposeConfChange(cc).ok) {
        st.confChanges++;
        if (cc.op === 'add_learner' && joining === undefined) {
          st.joining = cc.node;
          st.joinsLeft--;
          st.nextNodeId++;
          addRaftNode(st, hooks, cc.node, joinerDisk(conf, st.joinWithEmptyConf));
        }
      }
      leader.drain();
    }
    sim.schedule(intervalMs, 'operator', loop);
  };
  sim.schedule(intervalMs, 'operator', loop);
}

/**
 * A committed membership change, seen by the operator: a committed add ends a join; a
 * committed removal shuts the removed node down for good (its id is retired). The
 * operator goes by committed entries, not by a leader's conf, which may lag behind.
 */
function onConfigApplied(st: RunState, data: string): void {
  const cc = JSON.parse(data) as { op?: string; node?: number };
  if (typeof cc.node !== 'number') return;
  if (cc.op === 'add_learner' && cc.node === st.joining) st.joining = undefined;
  if (cc.op !== 'remove' || st.retired.has(cc.node)) return;
  st.retired.add(cc.node);
  st.sim.trace.record(st.sim.nowMs(), `operator retires ${cc.node}`);
  // Shut down after this event: the node may be the one applying its own removal.
  const id = cc.node;
  st.sim.schedule(0, 'retire', () => {
    if (st.sim.isUp(id)) st.sim.crash(id);
  });
}

/**
 * A joining node's disk: empty log, and the membership the leader had when it proposed
 * the join. Replaying older config entries over it is a no-op in the core (ids are never
 * reused), so the joiner ends with the right voters. Starting from an empty conf instead
 * (`joinWithEmptyConf`) makes the joiner rebuild its membership from the log alone,
 * which misses the bootstrap voters — kept as a switch to demonstrate that hazard.
 */
function joinerDisk(leaderConf: ConfState, empty: boolean): RaftDisk {
  const disk = bootstrapDisk([]);
  if (!empty) {
    const conf: ConfState = { voters: [...leaderConf.voters], learners: [...leaderConf.learners] };
    if (leaderConf.retired) conf.retired = [...leaderConf.retired];
    disk.storage.setConf(conf);
  }
  return disk;
}

/**
 * A fault mix for hunting protocol bugs quickly: the seed's network, but faults every
 * ~120 ms with leader-targeted crashes and isolation, 15% loss, one-entry appends with a
 * window of one (so an old-term entry and a new leader's no-op travel separately, as in
 * Figure 8), and a slow 20 ms fsync (a wide window between acknowledging and persisting).
 */
export function leaderChurnOptions(seed: number): RaftSimOptions {
  const f = deriveFaultConfig(createPrng(seed));
  return {
    faults: {
      ...f,
      lossRate: 0.15,
      delayMsMin: 5,
      delayMsMax: 40,
      nemesisIntervalMs: 120,
      crashWeight: 3,
      restartWeight: 4,
      healWeight: 3,
      partitionWeight: 2,
      oneWayPartitionWeight: 1,
    },
    leaderFaultWeight: 4,
    fsyncDelayMs: 20,
    tuning: { maxEntriesPerMsg: 1, maxInflightMsgs: 1 },
  };
}
