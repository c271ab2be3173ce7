/**
 * Reads sent to a leader while it hands leadership over must be answered — forwarded to
 * the new leader — not failed. DESIGN.md §5: requests that meet an election are "held
 * briefly and retried, not failed". Found by the drivers e2e test, whose `berth deploy`
 * stopped following with `no_leader` after a spurious election under load although a new
 * leader was elected within half a second.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { TestCluster } from '../cluster/harness.ts';

/** Leadership transfers made while reads keep arriving at the outgoing leader. */
const handoversMax = 6;
/** Reads in flight at once against the leader. */
const readsInFlightMax = 5;
/** How long the reads keep going after each transfer request, in ms. */
const readAfterTransferMs = 1_500;
/** Bound of one read: longer than the 5 s leader hold, so a held read can still succeed. */
const readTimeoutMs = 8_000;

const cluster = new TestCluster({ logLevel: 'info' });

beforeAll(async () => {
  await cluster.init();
  await cluster.join('voter');
  await cluster.join('voter');
  await cluster.waitFor(() => cluster.leader(), { what: 'a leader all three nodes agree on' });
}, 60_000);

afterAll(async () => {
  await cluster.destroy();
}, 30_000);

/** Keeps `readsInFlightMax` linearizable reads going against node `i` until `stop()`. */
function hammer(i: number) {
  const failures: Record<string, number> = {};
  let answered = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        Array.from({ length: readsInFlightMax }, async () => {
          try {
            await cluster.api(i, readTimeoutMs).request('/v1/deployments');
            answered++;
          } catch (error) {
            const code = (error as { code?: string }).code ?? String(error);
            failures[code] = (failures[code] ?? 0) + 1;
          }
        }),
      );
    }
  })();
  return {
    failures,
    answered: () => answered,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

test('reads at the outgoing leader during a leadership transfer are answered', async () => {
  // Proves that no read sent to a leader that steps down is answered 503 no_leader while a new leader exists (the request must be forwarded once this node is a follower).
  const failures: Record<string, number> = {};
  let answered = 0;
  for (let round = 0; round < handoversMax; round++) {
    const leader = await cluster.waitFor(() => cluster.leader(), { what: 'a leader' });
    const to = cluster.nodes.find((n) => n.index !== leader)!.nodeId;
    const reads = hammer(leader);
    await Bun.sleep(200);
    await cluster
      .api(leader, readTimeoutMs)
      .request('/v1/operator/raft/transfer-leadership', { method: 'POST', body: { to } });
    await Bun.sleep(readAfterTransferMs);
    await reads.stop();
    answered += reads.answered();
    for (const [code, n] of Object.entries(reads.failures))
      failures[code] = (failures[code] ?? 0) + n;
    await cluster.waitFor(async () => (await cluster.leader()) === cluster.indexOf(to), {
      what: `node ${to} to lead`,
    });
  }
  console.log(`[e2e handover] ${answered} reads answered, failures ${JSON.stringify(failures)}`);
  expect(answered).toBeGreaterThan(0);
  expect(failures).toEqual({});
}, 120_000);
