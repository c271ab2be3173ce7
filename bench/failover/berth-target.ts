/**
 * A real Berth cluster on 127.0.0.1 for the failover bench, built with the test harness
 * (test/cluster/harness.ts): `voters` voters (which also run work) plus `workers`
 * workers, with a 2-replica HTTP job deployed: `examples/hello-exec.yml` (exec driver), or
 * the same job as a busybox httpd container (Docker driver).
 *
 * A node kill is a machine dying: the agent and every task it runs are SIGKILLed. A node
 * restarted after a kill is back in the client's rotation once its router answers and
 * has applied the log up to the others' commit index (what a load balancer's health
 * check in front of the routers would wait for).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { joinSettled } from '../../test/chaos/settled-join.ts';
import { repoRoot, TestCluster } from '../../test/cluster/harness.ts';
import { commitImage, dockerUnavailableReason, removeImage } from '../../test/e2e/docker-image.ts';
import { killDockerTasks, killExecTasks, removeContainersOf } from './node-tasks.ts';
import { sumCounter } from './router-evidence.ts';
import type { FailoverTarget } from './target.ts';

/** The task driver of the bench's job. */
export type BenchDriver = 'exec' | 'docker';

export interface AllocationView {
  id: string;
  node: string;
  status: string;
  desired?: string;
  ports?: Record<string, number>;
}

/** The example job the bench deploys (2 replicas of a plain HTTP process). */
export const benchJobName = 'hello';
/** The host of the job's route, which the routed load sends. */
export const benchRouteHost = 'hello.localhost';
const jobSpecPath = join(repoRoot, 'examples', 'hello-exec.yml');
/** Replicas in the example job. */
export const benchJobCount = 2;
/** The image the Docker variant derives from busybox (its CMD serves /www with httpd). */
const dockerImageRepo = 'berth-bench/httpd';
/** Bound of a restarted node's catch-up (router answering, log applied), ms. */
const rejoinTimeoutMs = 30_000;
/** Bound of one router readiness probe, ms. */
const routerProbeTimeoutMs = 1_000;
/** Bound of one /metrics read, ms. */
const metricsTimeoutMs = 3_000;

/** What the routers counted: failed upstream attempts by kind, and retries. */
export interface RouterCounters {
  upstreamErrors: Record<string, number>;
  retries: number;
}

export class BerthTarget implements FailoverTarget {
  readonly name = 'berth';
  readonly cluster = new TestCluster({ clusterName: 'bench', logLevel: 'info' });
  /** Nodes under a fault right now: reads and writes skip them (shared with the trials). */
  readonly avoid = new Set<number>();
  readonly driver: BenchDriver;
  #image: string | undefined;

  constructor(driver: BenchDriver) {
    this.driver = driver;
  }

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
    const body = await this.#jobSpec();
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

  /** Name → pid of every running agent, for the CPU sampler. */
  agentPids(): Record<string, number> {
    const pids: Record<string, number> = {};
    for (const i of this.cluster.liveIndexes()) {
      const pid = this.cluster.nodes[i]?.process?.pid;
      if (pid !== undefined) pids[this.nodeName(i)] = pid;
    }
    return pids;
  }

  /** Node `i`'s name (`n1`, …), which labels its router in the routed load. */
  nodeName(i: number): string {
    return this.cluster.nodes[i]?.name ?? `#${i}`;
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

  /** The machine dies: the agent first, then (within milliseconds) the tasks it ran. */
  async kill9(i: number): Promise<void> {
    await this.cluster.kill9(i);
    const node = this.cluster.nodes[i]!;
    killExecTasks(node.dataDir);
    if (this.#image) await killDockerTasks(String(node.nodeId), this.#image);
  }

  /** Starts node `i` again; resolves once its router answers and it has caught up. */
  async restart(i: number): Promise<void> {
    await this.cluster.restart(i);
    await this.waitRejoined(i);
  }

  /**
   * Resolves once node `i`'s router answers and the node has applied the log up to the
   * other nodes' commit index as read now: what a load balancer's health check in front
   * of the routers would wait for before sending it traffic again.
   */
  async waitRejoined(i: number): Promise<void> {
    const others = this.cluster.liveIndexes().filter((n) => n !== i);
    const views = await Promise.all(others.map((n) => this.cluster.status(n)));
    const commitIndex = Math.max(0, ...views.map((v) => v?.commitIndex ?? 0));
    await this.cluster.waitFor(
      async () =>
        ((await this.cluster.status(i))?.appliedIndex ?? -1) >= commitIndex &&
        (await this.#routerAnswers(i)),
      { what: `node ${i} to catch up and its router to answer`, timeoutMs: rejoinTimeoutMs },
    );
  }

  /**
   * The routers' failed upstream attempts (by kind) and retries on another upstream,
   * summed over `indexes`; undefined when one of them does not answer.
   */
  async routerCounters(indexes: readonly number[]): Promise<RouterCounters | undefined> {
    const counters: RouterCounters = { upstreamErrors: {}, retries: 0 };
    for (const i of indexes) {
      try {
        const res = await this.cluster.api(i, metricsTimeoutMs).raw('/metrics');
        const text = await res.text();
        if (!res.ok) return undefined;
        const errors = sumCounter(text, 'berth_router_upstream_errors_total', 'kind');
        for (const [kind, n] of Object.entries(errors))
          counters.upstreamErrors[kind] = (counters.upstreamErrors[kind] ?? 0) + n;
        counters.retries += sumCounter(text, 'berth_router_retries_total')[''] ?? 0;
      } catch {
        return undefined;
      }
    }
    return counters;
  }

  /** The text of node `label`'s log (agent and router lines), for failure evidence. */
  logOf(label: string): string {
    const node = this.cluster.nodes.find((n) => n.name === label);
    return node ? readFileSync(node.logPath, 'utf8') : '';
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
    if (this.#image) {
      const left = await removeContainersOf(this.#image);
      if (left > 0) console.error(`bench-failover: removed ${left} leftover containers`);
      await removeImage(this.#image);
    }
  }

  /** Any answer from node `i`'s router (a 404 for an unknown host will do): it listens. */
  async #routerAnswers(i: number): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.cluster.nodes[i]!.httpPort}/`, {
        headers: { host: 'readiness.bench.invalid' },
        signal: AbortSignal.timeout(routerProbeTimeoutMs),
      });
      await res.arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }

  /** The exec example as is, or the same job as a busybox httpd container. */
  async #jobSpec(): Promise<Record<string, unknown>> {
    const exec = Bun.YAML.parse(readFileSync(jobSpecPath, 'utf8')) as Record<string, unknown>;
    if (this.driver === 'exec') return exec;
    const reason = await dockerUnavailableReason();
    if (reason) throw new Error(`--driver docker: ${reason} (scripts/ci-docker.sh prepares it)`);
    this.#image = await commitImage(dockerImageRepo, `run-${process.pid}`, [
      'httpd',
      '-f',
      '-p',
      '8080',
      '-h',
      '/www',
    ]);
    const { command: _command, ...rest } = exec;
    // One core per replica. Docker enforces the CPU share (the exec driver does not): at
    // the example's 100 MHz (0.1 core), busybox httpd — a fork per request — was throttled
    // in about two of every three CFS periods under the bench's load on a busy machine,
    // its health checks timed out, and the route was left with no upstream (503).
    return { ...rest, image: this.#image, resources: { cpu: 1_000, memory: 32 } };
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
