import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRaftConfig } from '../../actors/leader-election/index.ts';
import type { Entry, RaftMessage, Snapshot } from '../../actors/leader-election/types.ts';
import { BerthError } from '../core/errors.ts';
import { encodeLogCommand } from './log-entry-codec.ts';
import { type HostStorage, RaftHost } from './raft-host.ts';
import { SqliteRaftStorage } from './sqlite-storage.ts';
import { InProcessNetwork, type Transport } from './transport.ts';

/** Fast ticks keep the test short; timings are never asserted, only bounded waits. */
const testTickMs = 10;
const waitMsMax = 15_000;
const ids = [1, 2, 3];

interface Member {
  host: RaftHost;
  storage: SqliteRaftStorage;
  applied: Entry[];
  restored: Snapshot[];
}

interface MemberOptions {
  wrap?: (t: Transport, s: SqliteRaftStorage) => Transport;
  snapshotChunkBytes?: number;
  /** Sees the entry count of every Ready persisted by this node. */
  onPersist?: (entryCount: number) => void;
}

let dir: string;
let net: InProcessNetwork;
let members: Map<number, Member>;

function startMember(id: number, options: MemberOptions = {}): Member {
  const { wrap, snapshotChunkBytes, onPersist } = options;
  const storage = SqliteRaftStorage.open(join(dir, `node-${id}.db`));
  if (storage.initialState().conf.voters.length === 0)
    storage.setConf({ voters: ids, learners: [] });
  const applied: Entry[] = [];
  const restored: Snapshot[] = [];
  const config = defaultRaftConfig(id);
  if (snapshotChunkBytes) config.snapshotChunkBytes = snapshotChunkBytes;
  const hostStorage: HostStorage = {
    initialState: () => storage.initialState(),
    entries: (lo, hi) => storage.entries(lo, hi),
    term: (i) => storage.term(i),
    firstIndex: () => storage.firstIndex(),
    lastIndex: () => storage.lastIndex(),
    snapshot: () => storage.snapshot(),
    setConf: (conf) => storage.setConf(conf),
    persistReady: (rd) => {
      onPersist?.(rd.entries.length);
      storage.persistReady(rd);
    },
  };
  const host = new RaftHost({
    config,
    restoreSnapshot: (snap) => restored.push(snap),
    storage: hostStorage,
    transport: wrap ? wrap(net.connect(id), storage) : net.connect(id),
    apply: (entries) => applied.push(...entries),
    tickMs: testTickMs,
    seed: id * 7919,
  });
  host.start();
  const member = { host, storage, applied, restored };
  members.set(id, member);
  return member;
}

async function stopMember(id: number): Promise<void> {
  const m = members.get(id)!;
  await m.host.close();
  m.storage.close();
  members.delete(id);
}

async function waitFor<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = performance.now() + waitMsMax;
  while (performance.now() < deadline) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function leaderOf(candidates: Iterable<Member>): Member | undefined {
  for (const m of candidates) if (m.host.status().role === 'leader') return m;
  return undefined;
}

async function proposeMany(leader: Member, count: number, tag: string) {
  const outcomes = [];
  for (let i = 0; i < count; i++) {
    outcomes.push(await leader.host.propose(encodeLogCommand('test.cmd', { tag, i })));
  }
  return outcomes;
}

function normalPayloads(entries: Entry[]): string[] {
  return entries.filter((e) => e.kind === 'normal').map((e) => e.data);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-raft-host-'));
  net = new InProcessNetwork();
  members = new Map();
});

afterEach(async () => {
  for (const id of [...members.keys()]) await stopMember(id);
  rmSync(dir, { recursive: true, force: true });
});

describe('RaftHost with SQLite storage and the in-process transport', () => {
  test('three nodes elect a leader and commit proposals that every node applies in the same order', async () => {
    // Proves election (Raft §5.2) and replication (§5.3) through the real driver, disk and timers.
    for (const id of ids) startMember(id);
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    const outcomes = await proposeMany(leader, 20, 'a');
    for (let i = 1; i < outcomes.length; i++)
      expect(outcomes[i]!.index).toBe(outcomes[i - 1]!.index + 1);
    const lastIndex = outcomes[outcomes.length - 1]!.index;
    await waitFor('followers to apply', () =>
      [...members.values()].every((m) => m.host.commitIndex() >= lastIndex),
    );
    const expected = normalPayloads(leader.applied);
    expect(expected).toHaveLength(20);
    for (const m of members.values()) expect(normalPayloads(m.applied)).toEqual(expected);
  });

  test('a follower refuses a proposal with not_leader and names the leader', async () => {
    // Proves the not_leader error value carries a usable leaderHint and appends nothing.
    for (const id of ids) startMember(id);
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    const follower = [...members.values()].find((m) => m !== leader)!;
    await waitFor(
      'the follower to know the leader',
      () => follower.host.status().leaderId === leader.host.id,
    );
    const lastBefore = leader.host.status().lastIndex;
    const error = await follower.host.propose(encodeLogCommand('test.cmd', 1)).catch((e) => e);
    expect(error).toBeInstanceOf(BerthError);
    expect(error.code).toBe('not_leader');
    expect(error.details.leaderHint).toBe(leader.host.id);
    expect(leader.host.status().lastIndex).toBe(lastBefore);
  });

  test('a node closed and reopened from its files catches up on what it missed', async () => {
    // Proves durability across restart plus catch-up (Raft §5.3): the reopened node holds all entries.
    for (const id of ids) startMember(id);
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    await proposeMany(leader, 5, 'before');
    const victim = ids.find((id) => id !== leader.host.id)!;
    await waitFor(
      'the victim to apply',
      () => members.get(victim)!.host.commitIndex() >= leader.host.commitIndex(),
    );
    await stopMember(victim);
    const missed = await proposeMany(leader, 10, 'while-down'); // commits with 2 of 3
    const target = missed[missed.length - 1]!.index;
    const back = startMember(victim);
    expect(back.storage.lastIndex()).toBeLessThan(target); // it really missed them
    await waitFor('the reopened node to catch up', () => back.host.commitIndex() >= target);
    expect(back.host.read(1, target)).toEqual(leader.host.read(1, target));
    expect(back.storage.entries(1, target + 1)).toEqual(leader.storage.entries(1, target + 1));
  });

  test("a follower's CommittedLog yields the same entries as the leader's and signals commits", async () => {
    // Proves the CommittedLog view: consecutive indices, identical decoded entries, onCommit calls.
    for (const id of ids) startMember(id);
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    const follower = [...members.values()].find((m) => m !== leader)!;
    const seen: number[] = [];
    const unsubscribe = follower.host.onCommit((index) => seen.push(index));
    const outcomes = await proposeMany(leader, 8, 'log');
    const target = outcomes[outcomes.length - 1]!.index;
    await waitFor('the follower to apply', () => follower.host.commitIndex() >= target);
    unsubscribe();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBeGreaterThanOrEqual(target);
    const fromFollower = follower.host.read(1, target);
    expect(fromFollower).toEqual(leader.host.read(1, target));
    expect(fromFollower.map((e) => e.index)).toEqual(
      Array.from({ length: target }, (_, i) => i + 1),
    );
    const commands = fromFollower.filter((e) => e.type === 'test.cmd').map((e) => e.data);
    expect(commands).toEqual(Array.from({ length: 8 }, (_, i) => ({ tag: 'log', i })));
    expect(follower.host.read(target + 1, 10)).toEqual([]);
  });

  test('a proposal on a leader that was cut off is rejected with proposal_dropped once overwritten', async () => {
    // Proves a proposal is reported dropped when a later leader commits another entry at its index (§5.3).
    for (const id of ids) startMember(id);
    const oldLeader = await waitFor('a leader', () => leaderOf(members.values()));
    await proposeMany(oldLeader, 1, 'warm-up');
    net.setIsolated(oldLeader.host.id, true);
    const orphan = oldLeader.host.propose(encodeLogCommand('test.cmd', 'orphan'), {
      timeoutMs: waitMsMax,
    });
    const orphanResult = orphan.catch((e: BerthError) => e);
    const others = [...members.values()].filter((m) => m !== oldLeader);
    const newLeader = await waitFor('a new leader', () => leaderOf(others));
    await proposeMany(newLeader, 3, 'new-term');
    net.setIsolated(oldLeader.host.id, false);
    const error = await orphanResult;
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe('proposal_dropped');
    const payloads = normalPayloads(newLeader.applied);
    expect(payloads.some((p) => p.includes('orphan'))).toBe(false);
  });

  test('a proposal that cannot commit times out with code timeout', async () => {
    // Proves proposals are bounded in time: without a quorum the promise rejects with `timeout`.
    for (const id of ids) startMember(id);
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    net.setIsolated(leader.host.id, true);
    const error = await leader.host
      .propose(encodeLogCommand('test.cmd', 'lonely'), { timeoutMs: 30 })
      .catch((e) => e);
    expect(error).toBeInstanceOf(BerthError);
    expect(error.code).toBe('timeout');
  });

  test('votes and acknowledgements leave a node only after what they promise is on disk', async () => {
    // Proves the Ready order (Raft §5.1 Fig. 2, STYLE.md rule 15): persist before send, checked at every send.
    const violations: string[] = [];
    let checked = 0;
    const checkAtSend = (t: Transport, storage: SqliteRaftStorage): Transport => ({
      id: t.id,
      onMessage: (h) => t.onMessage(h),
      onUnreachable: (h) => t.onUnreachable(h),
      close: () => t.close(),
      send(msgs: readonly RaftMessage[]) {
        const hs = storage.initialState().hardState;
        for (const m of msgs) {
          if (m.type === 'vote_resp' && m.granted && !m.pre) {
            checked++;
            if (hs.term !== m.term || hs.vote !== m.to)
              violations.push(`vote for ${m.to} in ${m.term} not durable`);
          }
          if (m.type === 'append_resp' && m.success) {
            checked++;
            if (storage.lastIndex() < m.index)
              violations.push(`ack of ${m.index} with ${storage.lastIndex()} on disk`);
          }
          // Pre-vote messages carry the term a candidate would move to, without moving (thesis §9.6).
          const preVote = (m.type === 'vote' || m.type === 'vote_resp') && m.pre;
          if (!preVote && m.term > hs.term)
            violations.push(`${m.type} in term ${m.term} before the term was durable`);
        }
        t.send(msgs);
      },
    });
    for (const id of ids) startMember(id, { wrap: checkAtSend });
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    await proposeMany(leader, 10, 'ordered');
    expect(checked).toBeGreaterThan(10);
    expect(violations).toEqual([]);
  });

  test('a node that missed compacted entries is brought back by a chunked snapshot, then by appends', async () => {
    // Proves InstallSnapshot through the driver (Raft §7): persisted, handed to restoreSnapshot, log resumes after it.
    for (const id of ids) startMember(id, { snapshotChunkBytes: 1024 });
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    await proposeMany(leader, 3, 'early');
    const victim = ids.find((id) => id !== leader.host.id)!;
    await stopMember(victim);
    await proposeMany(leader, 5, 'missed');
    const snapIndex = leader.host.commitIndex();
    const state = new Uint8Array(3000).map((_, i) => (i * 31) % 256);
    leader.storage.createSnapshot(snapIndex, leader.host.status().conf, state);
    leader.storage.compact(snapIndex);
    const back = startMember(victim, { snapshotChunkBytes: 1024 });
    await waitFor('the snapshot to be installed', () => back.restored.length > 0);
    expect(back.restored[0]!.meta.index).toBe(snapIndex);
    expect(Array.from(back.restored[0]!.data)).toEqual(Array.from(state));
    const after = await proposeMany(leader, 2, 'after');
    const target = after[after.length - 1]!.index;
    await waitFor('the node to apply past the snapshot', () => back.host.commitIndex() >= target);
    expect(back.storage.firstIndex()).toBe(snapIndex + 1);
    expect(back.host.firstIndex()).toBe(snapIndex + 1);
    expect(back.host.read(snapIndex + 1, 10)).toEqual(leader.host.read(snapIndex + 1, 10));
    // On restart the node re-applies what it had committed before (consumers' cursors skip
    // those); what it missed arrives only inside the snapshot, never as entries.
    const tags = normalPayloads(back.applied).map((p) => JSON.parse(p).data.tag);
    expect(tags).not.toContain('missed');
    expect(tags.slice(-2)).toEqual(['after', 'after']);
  });

  test('a committed membership change survives a restart (replayed from the log)', async () => {
    // Proves config changes (thesis §4.1) are durable: a restarted node rebuilds them from its log.
    for (const id of ids) startMember(id);
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    await proposeMany(leader, 1, 'warm-up');
    const outcome = await leader.host.proposeConfChange({ op: 'add_learner', node: 4 });
    const follower = [...members.values()].find((m) => m !== leader)!;
    await waitFor(
      'the follower to apply the change',
      () => follower.host.commitIndex() >= outcome.index,
    );
    expect(follower.host.status().conf.learners).toEqual([4]);
    expect(follower.host.read(outcome.index, 1)).toEqual([
      {
        index: outcome.index,
        term: outcome.term,
        type: 'raft.config',
        data: { op: 'add_learner', node: 4 },
      },
    ]);
    const id = follower.host.id;
    await stopMember(id);
    const restarted = startMember(id);
    await waitFor('the restarted node to replay the change', () =>
      restarted.host.status().conf.learners.includes(4) ? true : undefined,
    );
    expect(restarted.host.status().conf).toEqual({ voters: ids, learners: [4] });
  });

  test('proposals made in one turn of the event loop are appended in one persisted batch', async () => {
    // Proves append batching: 50 proposals share one Ready, so the leader pays one fsync, not 50.
    const batches = new Map<number, number[]>(ids.map((id) => [id, []]));
    for (const id of ids) startMember(id, { onPersist: (n) => batches.get(id)!.push(n) });
    const leader = await waitFor('a leader', () => leaderOf(members.values()));
    await proposeMany(leader, 1, 'warm-up');
    const mine = batches.get(leader.host.id)!;
    mine.length = 0;
    const all = Array.from({ length: 50 }, (_, i) =>
      leader.host.propose(encodeLogCommand('test.cmd', i)),
    );
    await Promise.all(all);
    expect(mine.filter((n) => n > 0)).toEqual([50]);
  });
});
