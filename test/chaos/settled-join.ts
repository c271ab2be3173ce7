/**
 * Joins a node and waits until the membership change has settled: the leader lists the
 * new node with the expected role. Joining again before that is refused with
 * `membership_change_pending`, which the harness's join does not retry (and a failed
 * join leaves an unstarted node in `cluster.nodes`), so back-to-back joins must wait.
 */
import type { TestCluster } from '../cluster/harness.ts';

interface PeerView {
  id: number;
  voter: boolean;
}

/** How long one membership change may take to settle, in ms. */
const settleTimeoutMs = 30_000;

/** `cluster.join(role)`, then waits until the leader shows the node as `expectVoter`. */
export async function joinSettled(
  cluster: TestCluster,
  role: 'voter' | 'worker',
  expectVoter = role === 'voter',
): Promise<number> {
  const node = await cluster.join(role);
  await cluster.waitFor(
    async () => {
      const leader = await cluster.leader();
      if (leader === undefined) return false;
      const peers = await cluster
        .api(leader)
        .request<{ items: PeerView[] }>('/v1/operator/raft/peers');
      return peers.items.some((p) => p.id === node.nodeId && p.voter === expectVoter);
    },
    {
      what: `node ${node.index} to settle as a ${expectVoter ? 'voter' : 'learner'}`,
      timeoutMs: settleTimeoutMs,
    },
  );
  return node.index;
}
