/**
 * Failover time in simulated milliseconds, for benchmarks: a stable cluster at default
 * timings loses its leader; how long until a new leader has committed its no-op? The
 * simulator's tick is the driver's real tick (`raftTickMs`, 50 ms), so the figure is the
 * protocol's share of a real failover (no disk or TLS latency beyond the configured
 * network delay and fsync). The safety checker runs during the measurement too.
 */
import type { NodeId, RaftConfig } from '../../actors/leader-election/index.ts';
import { raftTickMs } from '../../actors/leader-election/index.ts';
import { BerthError } from '../core/errors.ts';
import { calmFaults } from './fault-config.ts';
import { RaftChecker } from './raft-checker.ts';
import {
  bootstrapDisk,
  type ClusterHooks,
  describeRaftMessage,
  findLeader,
  fingerprintRaftMessage,
  nodeTickMs,
  type RaftSim,
  RaftSimNode,
  simRaftConfig,
} from './raft-cluster.ts';
import { Simulator } from './simulator.ts';

export interface FailoverConfig {
  /** Voters in the cluster (default 3). */
  voters?: 3 | 5;
  /** Overrides of defaultRaftConfig (e.g. electionTicks), applied to every node. */
  raft?: Partial<Omit<RaftConfig, 'id'>>;
  /** One-way network delay bounds in ms (default 1..5, a LAN). */
  delayMsMin?: number;
  delayMsMax?: number;
  /** Simulated fsync latency in ms (default 1). */
  fsyncDelayMs?: number;
  /** Tick-timer drift between nodes, as a fraction (default 0.01). */
  tickDriftMax?: number;
  /** How long the cluster runs stable before the crash, in ms (default 2000). */
  stableMs?: number;
}

/** Ticks allowed for the first election and for the failover before the run is declared stuck. */
const failoverTicksMax = 400;

/** Crashes the leader of a stable cluster and returns the simulated ms until a new leader committed its no-op. */
export function measureElectionAfterLeaderCrash(seed: number, config: FailoverConfig = {}): number {
  const voters = config.voters ?? 3;
  const faults = {
    ...calmFaults,
    delayMsMin: config.delayMsMin ?? 1,
    delayMsMax: config.delayMsMax ?? 5,
    tickDriftMax: config.tickDriftMax ?? 0.01,
  };
  const sim: RaftSim = new Simulator({
    seed,
    faults,
    describe: describeRaftMessage,
    fingerprint: fingerprintRaftMessage,
  });
  const checker = new RaftChecker(() => sim.nowMs());
  let crashedTerm = Number.POSITIVE_INFINITY;
  let newLeaderCommittedAtMs: number | undefined;
  const hooks: ClusterHooks = {
    checker,
    bugs: {},
    fsyncDelayMs: config.fsyncDelayMs ?? 1,
    snapshotEveryEntries: 0,
    snapshotKeepEntries: 0,
    raftConfig: (id) => ({ ...simRaftConfig(id, undefined), ...config.raft, id }),
    onApplied: (id, entry) => {
      if (entry.kind !== 'noop' || entry.term <= crashedTerm) return;
      const s = sim.process(id)?.raft.status();
      if (s?.role === 'leader' && s.term === entry.term) newLeaderCommittedAtMs ??= sim.nowMs();
    },
  };
  const ids: NodeId[] = Array.from({ length: voters }, (_, i) => i + 1);
  const prng = sim.prng.fork();
  for (const id of ids) {
    const tickMs = nodeTickMs(prng, faults.tickDriftMax);
    sim.addNode(id, {
      disk: bootstrapDisk(ids),
      boot: (ctx, d) => new RaftSimNode(ctx, d, hooks, tickMs),
      loseVolatile: (d) => {
        d.unsynced.length = 0;
      },
    });
  }
  const boundMs = failoverTicksMax * raftTickMs;
  const hasCommittingLeader = () => (findLeader(sim, ids)?.raft.status().commit ?? 0) > 0;
  while (!hasCommittingLeader() && sim.nowMs() < boundMs) sim.runUntil(sim.nowMs() + raftTickMs);
  if (!hasCommittingLeader()) {
    throw new BerthError('sim_no_leader', `seed ${seed}: no stable leader after ${boundMs} ms`);
  }
  sim.runUntil(sim.nowMs() + (config.stableMs ?? 2_000));
  const stable = findLeader(sim, ids);
  if (!stable) throw new BerthError('sim_no_leader', `seed ${seed}: leader lost while stable`);
  crashedTerm = stable.raft.status().term;
  const crashAtMs = sim.nowMs();
  sim.crash(stable.id);
  const deadlineMs = crashAtMs + boundMs;
  while (newLeaderCommittedAtMs === undefined && sim.nowMs() < deadlineMs && !checker.violation) {
    sim.runUntil(Math.min(deadlineMs, sim.nowMs() + raftTickMs));
  }
  if (checker.violation) {
    throw new BerthError(
      'sim_violation',
      `seed ${seed}: ${checker.violation.invariant}: ${checker.violation.message}`,
    );
  }
  if (newLeaderCommittedAtMs === undefined) {
    throw new BerthError('sim_no_failover', `seed ${seed}: no new leader within ${boundMs} ms`);
  }
  return newLeaderCommittedAtMs - crashAtMs;
}
