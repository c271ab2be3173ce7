/**
 * A real Berth cluster on 127.0.0.1 for the failover bench, built with the test harness
 * (test/cluster/harness.ts): `voters` voters (which also run work) plus `workers`
 * workers, with `examples/hello-exec.yml` deployed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { joinSettled } from '../../test/chaos/settled-join.ts';
import { repoRoot, TestCluster } from '../../test/cluster/harness.ts';
import type { FailoverTarget } from './target.ts';

export interface AllocationView {
  id: string;
  node: string;
  status: string;
  desired?: string;
  ports?: Record<string, number>;
}

/** The example job the bench deploys (2 replicas of a plain HTTP process). */
export const benchJobName = 'hello';
const jobSpecPath = join(repoRoot, 'examples', 'hello-exec.yml');
/** Replicas in the example job. */
export const benchJobCount = 2;

export class BerthTarget implements FailoverTarget {
  readonly name = 'berth';
  readonly cluster = new TestCluster({ clusterName: 'bench', logLevel: 'info' });
  /** Nodes under a fault right now: reads and writes skip them (shared with the trials). */
  readonly avoid = new Set<number>();

  get nodeCount(): number {
    return this.cluster.nodes.length;
  }

  /**
   * Starts the cluster. `votersTarget` is only in the agent config file: for 5 voters
   * each node's data-dir `agent.yml` gets `votersTarget: 5` and the agent is restarted
   * right after it joins (the harness has no config hook).
   */
  async start(voters: 3 | 5, workers: number): Promise<void> {
    await this.cluster.init();
    if (voters === 5) await this.#setVotersTarget(0, 5);
    for (let v = 1; v < voters; v++) {
      // With votersTarget 3, voters past the third stay learners.
      const node = await joinSettled(this.cluster, 'voter', v < 3 || voters === 5);
      if (voters === 5) await this.#setVotersTarget(node, 5);
    }
    for (let w = 0; w < workers; w++) await joinSettled(this.cluster, 'worker');
    await this.cluster.waitFor(() => this.#votersAre(voters), {
      what: `${voters} voters`,
      timeoutMs: 60_000,
    });
  }

  async deploy(): Promise<void> {
    const body = Bun.YAML.parse(readFileSync(jobSpecPath, 'utf8'));
    await this.cluster.api(0, 15_000).request('/v1/jobs', { method: 'POST', body });
    await this.cluster.waitFor(
      async () => (await this.healthyAllocations(new Set())).length >= benchJobCount,
      {
        what: 'the example job healthy',
        timeoutMs: 60_000,
      },
    );
  }

  /** Allocations that should run and are healthy, as any answering node sees them (local read). */
  async allocations(): Promise<AllocationView[]> {
    for (const i of this.cluster.liveIndexes().filter((n) => !this.avoid.has(n))) {
      try {
        const res = await this.cluster
          .api(i, 1_000)
          .request<{ items: AllocationView[] }>(`/v1/jobs/${benchJobName}/allocations`, {
            query: { stale: true },
          });
        return res.items;
      } catch {
        // A stopped or starting node: ask the next one.
      }
    }
    return [];
  }

  /** Healthy allocations meant to run, on nodes whose Raft id is not in `excludedNodeIds`. */
  async healthyAllocations(excludedNodeIds: Set<string>): Promise<AllocationView[]> {
    const items = await this.allocations();
    return items.filter(
      (a) => a.status === 'healthy' && a.desired !== 'stop' && !excludedNodeIds.has(a.node),
    );
  }

  nodeId(i: number): string {
    return String(this.cluster.nodes[i]?.nodeId);
  }

  leader(): Promise<number | undefined> {
    return this.cluster.leader();
  }

  async write(i: number, key: string, value: string, timeoutMs: number): Promise<boolean> {
    try {
      await this.cluster
        .api(i, timeoutMs)
        .request(`/v1/secrets/${key}`, { method: 'PUT', body: { value } });
      return true;
    } catch {
      return false;
    }
  }

  kill9(i: number): Promise<void> {
    return this.cluster.kill9(i);
  }

  restart(i: number): Promise<void> {
    return this.cluster.restart(i);
  }

  pid(i: number): number {
    const pid = this.cluster.nodes[i]?.process?.pid;
    if (pid === undefined) throw new Error(`node ${i} has no process`);
    return pid;
  }

  async healthy(): Promise<boolean> {
    if (this.cluster.liveIndexes().length !== this.nodeCount) return false;
    if ((await this.cluster.leader()) === undefined) return false;
    const allocs = await this.healthyAllocations(new Set());
    return allocs.length >= benchJobCount;
  }

  async destroy(): Promise<void> {
    // Agents leave their tasks running by design (a restart adopts them): stop the job first.
    const leader = await this.cluster.leader();
    if (leader !== undefined) {
      await this.cluster
        .api(leader, 10_000)
        .request(`/v1/jobs/${benchJobName}`, { method: 'DELETE' })
        .catch(() => undefined);
      await this.cluster
        .waitFor(
          async () =>
            (await this.allocations()).every((a) =>
              ['complete', 'failed', 'lost'].includes(a.status),
            ),
          { what: 'the example job to stop', timeoutMs: 20_000 },
        )
        .catch((error: Error) => console.error(`bench-failover: ${error.message.split('\n')[0]}`));
    }
    await this.cluster.destroy();
  }

  async #setVotersTarget(i: number, votersTarget: number): Promise<void> {
    const file = join(this.cluster.nodes[i]?.dataDir ?? '', 'agent.yml');
    const config = Bun.YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, `${JSON.stringify({ ...config, votersTarget }, null, 2)}\n`);
    await this.cluster.restart(i);
    await this.cluster.waitFor(() => this.cluster.leader(), {
      what: 'a leader after a config restart',
      timeoutMs: 30_000,
    });
  }

  async #votersAre(count: number): Promise<boolean> {
    const leader = await this.cluster.leader();
    if (leader === undefined) return false;
    const peers = await this.cluster
      .api(leader)
      .request<{ items: { voter: boolean }[] }>('/v1/operator/raft/peers');
    return peers.items.filter((p) => p.voter).length === count;
  }
}
