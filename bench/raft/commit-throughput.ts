/**
 * Raft commit throughput and latency: three in-process voters, each on its own SQLite file
 * (WAL, synchronous=FULL, one fsync'd transaction per Ready), joined by the in-process
 * transport, driven by real 50 ms ticks. N proposers each propose, wait for the commit
 * (applied on the leader), and propose again.
 */
import { join } from 'node:path';
import { defaultRaftConfig, type Entry, type Ready } from '../../actors/leader-election/index.ts';
import { BerthError } from '../../src/core/errors.ts';
import { encodeLogCommand } from '../../src/raft/log-entry-codec.ts';
import { type HostStorage, RaftHost } from '../../src/raft/raft-host.ts';
import { SqliteRaftStorage } from '../../src/raft/sqlite-storage.ts';
import { InProcessNetwork } from '../../src/raft/transport.ts';
import { type LatencySummary, summarize } from './stats.ts';

export interface LevelBounds {
  /** Stop a level after this many commits. */
  commitsMax: number;
  /** Or after this long, in ms. */
  durationMsMax: number;
}

export interface LevelResult {
  proposers: number;
  summary: LatencySummary;
  /** Proposals rejected (not_leader, dropped, timeout) during the level. */
  rejected: number;
  /** fsync'd transactions the three nodes ran during the level, per commit. */
  fsyncsPerCommit: number;
}

const voters = [1, 2, 3];
const leaderWaitMsMax = 10_000;

/** Counts the persistReady calls that ended in an fsync'd commit. */
function countFsyncs(storage: SqliteRaftStorage, counter: { n: number }): HostStorage {
  const persist = (rd: Pick<Ready, 'snapshot' | 'entries' | 'hardState' | 'mustSync'>) => {
    if (storage.persistReady(rd)) counter.n++;
  };
  return {
    initialState: () => storage.initialState(),
    entries: (lo, hi) => storage.entries(lo, hi),
    term: (i) => storage.term(i),
    firstIndex: () => storage.firstIndex(),
    lastIndex: () => storage.lastIndex(),
    snapshot: () => storage.snapshot(),
    persistReady: persist,
    setConf: (conf) => storage.setConf(conf),
  };
}

/** Starts the cluster, runs every level in turn, and shuts it down. */
export async function runCommitLevels(
  dir: string,
  levels: readonly number[],
  bounds: LevelBounds,
): Promise<LevelResult[]> {
  const net = new InProcessNetwork();
  const fsyncs = { n: 0 };
  const storages = voters.map((id) => SqliteRaftStorage.open(join(dir, `raft-${id}.db`)));
  const hosts = voters.map((id, i) => {
    const storage = storages[i]!;
    storage.setConf({ voters, learners: [] });
    return new RaftHost({
      config: defaultRaftConfig(id),
      storage: countFsyncs(storage, fsyncs),
      transport: net.connect(id),
      apply: (_entries: readonly Entry[]) => {},
    });
  });
  try {
    for (const h of hosts) h.start();
    const results: LevelResult[] = [];
    for (const proposers of levels) {
      const leader = await waitForLeader(hosts);
      const before = fsyncs.n;
      const level = await runLevel(leader, proposers, bounds);
      const fsyncsPerCommit =
        level.summary.count > 0 ? (fsyncs.n - before) / level.summary.count : 0;
      results.push({ ...level, fsyncsPerCommit });
    }
    return results;
  } finally {
    for (const h of hosts) await h.close();
    for (const s of storages) s.close();
  }
}

async function waitForLeader(hosts: readonly RaftHost[]): Promise<RaftHost> {
  const deadline = performance.now() + leaderWaitMsMax;
  while (performance.now() < deadline) {
    const leader = hosts.find((h) => h.status().role === 'leader');
    if (leader) return leader;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no leader within ${leaderWaitMsMax} ms`);
}

async function runLevel(
  leader: RaftHost,
  proposers: number,
  bounds: LevelBounds,
): Promise<Omit<LevelResult, 'fsyncsPerCommit'>> {
  const latenciesMs: number[] = [];
  let rejected = 0;
  let issued = 0;
  const startMs = performance.now();
  const payloadPad = 'x'.repeat(64);
  const proposer = async () => {
    while (issued < bounds.commitsMax && performance.now() - startMs < bounds.durationMsMax) {
      issued++;
      const t0 = performance.now();
      try {
        await leader.propose(encodeLogCommand('bench.cmd', { n: issued, pad: payloadPad }));
        latenciesMs.push(performance.now() - t0);
      } catch (error) {
        if (!(error instanceof BerthError)) throw error;
        rejected++;
        // A lost leadership ends the level early rather than spinning on rejections.
        if (error.code === 'not_leader' || error.code === 'host_closed') return;
      }
    }
  };
  await Promise.all(Array.from({ length: proposers }, proposer));
  return { proposers, summary: summarize(latenciesMs, performance.now() - startMs), rejected };
}
