/**
 * The node runtime's acceptance, on five real `berth agent` processes on 127.0.0.1:
 * init, two voters and two workers join, the leader is killed with SIGKILL, writes
 * land during the election, the log is compacted past the dead node, and the node comes
 * back through a snapshot. The steps share one cluster and run in order.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { TestCluster } from './harness.ts';

/** Entries after which every agent snapshots (BERTH_SNAPSHOT_ENTRIES). */
const snapshotEntries = 40;
/**
 * Entries an agent keeps behind its snapshot (duties.ts `snapshotTrailingEntries`):
 * the log is only compacted past the dead node once more than this was written.
 */
const trailingEntries = 1_024;
/** Writes in flight at once while filling the log. */
const writeConcurrencyMax = 64;
/** Writes sent between two checks of the survivors' first log index. */
const fillChunkWrites = 100;
/** Failed filler writes tolerated in one fillLog call. */
const fillErrorsMax = 256;
/** Chunks written at most before giving up on compaction (a bound, well above the need). */
const fillChunksMax = 30;

interface PeerView {
  id: number;
  voter: boolean;
  leader: boolean;
}
interface NodeView {
  id: string;
  status: string;
  voter: boolean;
}

const cluster = new TestCluster({
  clusterName: 'accept',
  env: { BERTH_SNAPSHOT_ENTRIES: String(snapshotEntries) },
});

async function peersOf(i: number): Promise<PeerView[]> {
  return (await cluster.api(i).request<{ items: PeerView[] }>('/v1/operator/raft/peers')).items;
}

async function nodeStatus(via: number, nodeId: number): Promise<string | undefined> {
  const { items } = await cluster.api(via, 10_000).request<{ items: NodeView[] }>('/v1/nodes');
  return items.find((n) => n.id === String(nodeId))?.status;
}

/** A gauge's value from a node's /metrics. */
async function metric(i: number, name: string): Promise<number> {
  const res = await cluster.api(i).raw('/metrics');
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in node ${i}'s /metrics`);
  return Number(line.split(' ')[1]);
}

/**
 * Sends `count` successful secret writes to node `via`, `writeConcurrencyMax` at a time.
 * A failed filler write is simply sent again (it only has to add a log entry), up to
 * `fillErrorsMax` failures in all: on a loaded machine a request can be reset.
 */
async function fillLog(via: number, count: number): Promise<void> {
  let started = 0;
  let errors = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      try {
        await cluster.api(via, 15_000).request('/v1/secrets/filler', {
          method: 'PUT',
          body: { value: `v${started}` },
        });
      } catch (error) {
        if (++errors > fillErrorsMax) throw error;
        if (errors === 1) console.log(`a filler write failed (sending another): ${error}`);
        started--;
      }
    }
  };
  await Promise.all(Array.from({ length: writeConcurrencyMax }, worker));
  if (errors > 0) console.log(`${errors} filler writes failed and were sent again`);
}

/** PUTs a secret to node `i` and logs how long it took (logged, never asserted). */
async function writeDuringElection(i: number): Promise<{ index: number }> {
  const startedMs = performance.now();
  const put = await cluster
    .api(i, 20_000)
    .request<{ index: number }>(`/v1/secrets/during-election-${i}`, {
      method: 'PUT',
      body: { value: `written-while-leaderless-${i}` },
    })
    .catch((error: unknown) => {
      const code = (error as { code?: string }).code;
      throw new Error(`the write to node ${i} during the election failed [${code}]: ${error}`);
    });
  const tookMs = Math.round(performance.now() - startedMs);
  console.log(`write sent to node ${i} right after kill -9 of the leader took ${tookMs} ms`);
  return put;
}

beforeAll(async () => {
  await cluster.init();
}, 60_000);

afterAll(async () => {
  await cluster.destroy();
}, 30_000);

describe('five-node cluster on real processes', () => {
  let oldLeader = -1;
  let survivors: number[] = [];
  let deadAppliedIndex = 0;

  test('two voters and two workers join; three voters, two learners, one leader everywhere', async () => {
    // Proves joining by token works end to end and the leader promotes voter-role nodes (only) up to 3 voters.
    await cluster.join('voter');
    await cluster.join('voter');
    await cluster.join('worker');
    await cluster.join('worker');
    const ids = cluster.nodes.map((n) => n.nodeId);
    expect(new Set(ids).size).toBe(5);
    const voterIds = cluster.nodes.slice(0, 3).map((n) => n.nodeId);
    const workerIds = cluster.nodes.slice(3).map((n) => n.nodeId);
    const peers = await cluster.waitFor(
      async () => {
        const leader = await cluster.leader();
        if (leader === undefined) return undefined;
        const list = await peersOf(leader);
        const voters = list.filter((p) => p.voter).map((p) => p.id);
        return voters.length === 3 && list.length === 5 ? list : undefined;
      },
      { what: 'three voters and five peers', timeoutMs: 30_000 },
    );
    expect(
      peers
        .filter((p) => p.voter)
        .map((p) => p.id)
        .sort(),
    ).toEqual([...voterIds].sort());
    expect(peers.filter((p) => !p.voter).map((p) => p.id)).toEqual(
      expect.arrayContaining(workerIds),
    );
    // Every one of the five answers /v1/status and names the same leader.
    const leader = await cluster.waitFor(() => cluster.leader(), {
      what: 'all five to agree on a leader',
    });
    const views = await Promise.all(cluster.nodes.map((n) => cluster.status(n.index)));
    expect(new Set(views.map((v) => v?.leaderId)).size).toBe(1);
    expect(views[leader]?.role).toBe('leader');
  }, 90_000);

  test('kill -9 of the leader: a new leader among the survivors, and writes sent to both surviving voters during the election succeed', async () => {
    // Proves failover (Raft §5.2) on real processes, and that followers hold and forward writes made while there is no leader — including the follower that wins the election while holding one.
    oldLeader = await cluster.waitFor(() => cluster.leader(), { what: 'a leader before the kill' });
    const oldNodeId = cluster.nodes[oldLeader]?.nodeId as number;
    const followers = [0, 1, 2].filter((i) => i !== oldLeader);
    deadAppliedIndex = (await cluster.status(oldLeader))?.appliedIndex ?? 0;
    await cluster.kill9(oldLeader);
    survivors = cluster.liveIndexes();
    // One of the two surviving voters wins the election: a write is sent to each of
    // them, so both paths are taken — forwarded to the winner, and held by the winner.
    const puts = await Promise.all(followers.map((i) => writeDuringElection(i)));
    for (const put of puts) expect(put.index).toBeGreaterThan(deadAppliedIndex);

    expect(survivors).not.toContain(oldLeader);
    const newLeader = await cluster.waitFor(() => cluster.leader(), {
      what: 'the survivors to agree on a new leader',
    });
    expect(followers).toContain(newLeader);
    const views = await Promise.all(survivors.map((i) => cluster.status(i)));
    for (const v of views) {
      expect(v).toBeDefined();
      expect(v?.leaderId).not.toBe(String(oldNodeId));
    }
    for (const i of followers) {
      const read = await cluster
        .api(newLeader, 10_000)
        .request<{ value: string }>(`/v1/secrets/during-election-${i}`);
      expect(read.value).toBe(`written-while-leaderless-${i}`);
    }
  }, 60_000);

  test('the dead node is reported down in /v1/nodes', async () => {
    // Proves the leader's node monitor declares a silent node down after its TTL.
    const deadId = cluster.nodes[oldLeader]?.nodeId as number;
    await cluster.waitFor(
      async () => (await nodeStatus(survivors[0] as number, deadId)) === 'down',
      {
        what: `node ${deadId} to be reported down`,
        timeoutMs: 15_000,
      },
    );
  }, 20_000);

  test('writes while a node is down compact the log past it; on restart it catches up through a snapshot', async () => {
    // Proves InstallSnapshot on real processes: a node behind the leader's first log index is restored from a snapshot and sees the writes it missed.
    const leader = await cluster.waitFor(() => cluster.leader(), { what: 'a leader' });
    await cluster.api(leader, 15_000).request('/v1/secrets/while-down', {
      method: 'PUT',
      body: { value: 'missed-by-the-dead-node' },
    });
    await cluster.api(leader, 15_000).request('/v1/jobs', {
      method: 'POST',
      body: { name: 'while-down', image: 'nginx:1.27', count: 2 },
    });
    // Compaction keeps `trailingEntries` behind each snapshot, so at least that many
    // writes are needed; then write in chunks until every survivor's log starts past the
    // dead node (whichever of them leads when it returns must send a snapshot).
    const firstIndexOfSurvivors = async () =>
      Math.min(...(await Promise.all(survivors.map((i) => metric(i, 'berth_raft_first_index')))));
    await fillLog(leader, trailingEntries);
    let firstIndex = await firstIndexOfSurvivors();
    for (let chunk = 0; chunk < fillChunksMax && firstIndex <= deadAppliedIndex + 1; chunk++) {
      await fillLog(leader, fillChunkWrites);
      firstIndex = await firstIndexOfSurvivors();
    }
    expect(firstIndex).toBeGreaterThan(deadAppliedIndex + 1);
    console.log(
      `survivors' first log index ${firstIndex}; the dead node had applied ${deadAppliedIndex}`,
    );

    await cluster.restart(oldLeader);
    const target = (await cluster.status(leader))?.commitIndex as number;
    await cluster.waitFor(
      async () => ((await cluster.status(oldLeader))?.appliedIndex ?? 0) >= target,
      { what: `the restarted node to apply up to ${target}`, timeoutMs: 20_000 },
    );
    // The log line must come from this restore: its index is past what the node had.
    const restores = readFileSync(cluster.nodes[oldLeader]?.logPath as string, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"state restored from snapshot"'))
      .map((l) => JSON.parse(l) as { index: number });
    expect(restores.some((r) => r.index >= firstIndex)).toBe(true);
    const local = cluster.api(oldLeader);
    const secret = await local.request<{ value: string }>('/v1/secrets/while-down', {
      query: { stale: true },
    });
    expect(secret.value).toBe('missed-by-the-dead-node');
    const job = await local.request<{ name: string }>('/v1/jobs/while-down', {
      query: { stale: true },
    });
    expect(job.name).toBe('while-down');
  }, 90_000);

  test('the restarted node is reported up again', async () => {
    // Proves the node monitor turns a returning node back to up.
    const id = cluster.nodes[oldLeader]?.nodeId as number;
    await cluster.waitFor(async () => (await nodeStatus(oldLeader, id)) === 'up', {
      what: `node ${id} to be reported up`,
      timeoutMs: 15_000,
    });
  }, 20_000);
});
