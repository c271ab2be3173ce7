/**
 * A real multi-process Berth cluster on 127.0.0.1 for tests: `berth server init` and
 * `berth server join` run as CLI processes, and every node is a `berth agent` process
 * (Bun.spawn) with its own data directory and log file under one temporary directory.
 * Tests talk to the nodes only through the HTTPS API, as a user would.
 *
 * Every wait is bounded (`waitFor` throws with the tail of every node's log), and every
 * agent is killed by `stopAll()` — tests call it in `afterAll`, and a process `exit`
 * hook SIGKILLs whatever is still running if a test run dies before that.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { ApiClient } from '../../src/cli/client.ts';
import { freePorts } from '../../src/core/ports-testing.ts';

/** The repository root (this file lives in test/cluster/). */
export const repoRoot = resolve(import.meta.dir, '..', '..');
const cliPath = join(repoRoot, 'src', 'cli', 'main.ts');

/** Bounds of the harness's own waits and polls. */
export const harnessLimits = {
  /** Nodes one TestCluster may run. */
  nodesMax: 9,
  /** Longest a CLI call (init, join) may run, in ms. */
  cliTimeoutMs: 30_000,
  /** How long SIGTERM is given before SIGKILL, in ms. */
  stopGraceMs: 5_000,
  /** Default bound of `waitFor`, in ms. */
  waitTimeoutMsDefault: 20_000,
  /** Pause between two polls of `waitFor`, in ms. */
  pollIntervalMs: 100,
  /** Default bound of one API request made by the harness, in ms. */
  requestTimeoutMs: 3_000,
  /** Times `join` runs `server join` when it meets an election. */
  joinAttemptsMax: 5,
  /** Pause between two join attempts, in ms. */
  joinRetryPauseMs: 1_000,
  /** Lines of each node's log printed when a wait fails. */
  logTailLines: 25,
};

export interface ClusterOptions {
  /** Extra environment for every agent (e.g. BERTH_SNAPSHOT_ENTRIES). */
  env?: Record<string, string>;
  /** BERTH_LOG level of the agents. Default `info`. */
  logLevel?: 'debug' | 'info' | 'warn';
  clusterName?: string;
  /** A fixed HTTP router port for node `index` (e.g. the port Pebble validates against). */
  httpPortOf?: (index: number) => number | undefined;
}

export interface TestNode {
  /** Position in `TestCluster.nodes`. */
  index: number;
  /** Raft node id (1 for the init node). */
  nodeId: number;
  name: string;
  dataDir: string;
  logPath: string;
  apiPort: number;
  peerPort: number;
  /** The node's HTTP router. */
  httpPort: number;
  /** The node's HTTPS router (SNI from replicated certificates). */
  httpsPort: number;
  process: Subprocess | undefined;
}

export interface StatusView {
  nodeId: string;
  role: string;
  leaderId: string | null;
  term: number;
  commitIndex: number;
  appliedIndex: number;
}

export interface WaitOptions {
  timeoutMs?: number;
  /** What is awaited, for the failure message. */
  what: string;
}

const liveProcesses = new Set<Subprocess>();
process.on('exit', () => {
  for (const p of liveProcesses) p.kill('SIGKILL');
});

/** The last `lines` lines of a file, or a note that it does not exist. */
export function tailOf(path: string, lines: number): string {
  if (!existsSync(path)) return `(no file ${path})`;
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs the CLI as a separate process; resolves with its exit code and output. */
export async function runCli(
  argv: string[],
  env: Record<string, string>,
  timeoutMs = harnessLimits.cliTimeoutMs,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(['bun', cliPath, ...argv], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export class TestCluster {
  /** The temporary directory holding every node's data dir, logs and the CLI config. */
  readonly dir: string;
  readonly configDir: string;
  readonly nodes: TestNode[] = [];
  readonly #options: ClusterOptions;
  #adminToken = '';
  #caPem = '';

  constructor(options: ClusterOptions = {}) {
    this.#options = options;
    this.dir = mkdtempSync(join(tmpdir(), 'berth-cluster-'));
    this.configDir = join(this.dir, 'cli-config');
  }

  get adminToken(): string {
    return this.#adminToken;
  }

  get caPem(): string {
    return this.#caPem;
  }

  get clusterName(): string {
    return this.#options.clusterName ?? 'test';
  }

  /** `server init` for node 0 and starts its agent; resolves once its API answers. */
  async init(): Promise<TestNode> {
    const node = this.#newNode();
    const res = await this.#cli([
      'server',
      'init',
      '--cluster',
      this.clusterName,
      ...this.#nodeFlags(node),
      '--json',
    ]);
    const out = JSON.parse(res.stdout) as { adminToken: string; nodeId: number };
    this.#adminToken = out.adminToken;
    node.nodeId = out.nodeId;
    this.#caPem = readFileSync(join(node.dataDir, 'tls', 'ca.pem'), 'utf8');
    this.start(node.index);
    // The admin token becomes valid once the first leader has proposed the bootstrap.
    await this.waitFor(() => this.status(node.index), { what: 'node 0 to answer /v1/status' });
    return node;
  }

  /** Mints a join token through the API (any live node; followers forward). */
  async joinToken(role: 'voter' | 'worker', via = this.#anyLive()): Promise<string> {
    const res = await this.api(via, 15_000).request<{ token: string }>('/v1/cluster/join-tokens', {
      method: 'POST',
      body: { role },
    });
    return res.token;
  }

  /**
   * Runs `server join` against node `via` with `token` (default: a fresh one of `role`)
   * and starts the new agent.
   */
  async join(role: 'voter' | 'worker', via = this.#anyLive(), token?: string): Promise<TestNode> {
    token ??= await this.joinToken(role, via);
    const node = this.#newNode();
    const target = `127.0.0.1:${this.nodes[via]?.apiPort}`;
    const argv = ['server', 'join', target, '--token', token, ...this.#nodeFlags(node), '--json'];
    // A join that meets an election is refused before anything is spent or written
    // (`not_leader`); like an operator, the harness tries again a few times.
    let res = await runCli(argv, { BERTH_CONFIG_DIR: this.configDir });
    for (let attempt = 1; attempt < harnessLimits.joinAttemptsMax && res.code !== 0; attempt++) {
      if (!/"code":"(not_leader|no_leader|forward_failed)"/.test(res.stderr)) break;
      await Bun.sleep(harnessLimits.joinRetryPauseMs);
      res = await runCli(argv, { BERTH_CONFIG_DIR: this.configDir });
    }
    if (res.code !== 0) {
      throw new Error(`berth server join exited ${res.code}: ${res.stderr}\n${this.logTails()}`);
    }
    node.nodeId = (JSON.parse(res.stdout) as { nodeId: number }).nodeId;
    this.start(node.index);
    return node;
  }

  /** Spawns node `i`'s agent; its stdout and stderr are appended to its log file. */
  start(i: number): void {
    const node = this.#node(i);
    if (node.process && node.process.exitCode === null && !node.process.killed) {
      throw new Error(`node ${i} is already running`);
    }
    const fd = openSync(node.logPath, 'a');
    const proc = Bun.spawn(['bun', cliPath, 'agent', '--data-dir', node.dataDir], {
      cwd: repoRoot,
      env: {
        ...process.env,
        BERTH_CONFIG_DIR: this.configDir,
        BERTH_LOG: this.#options.logLevel ?? 'info',
        ...this.#options.env,
      },
      stdin: 'ignore',
      stdout: fd,
      stderr: fd,
    });
    closeSync(fd);
    liveProcesses.add(proc);
    void proc.exited.then(() => liveProcesses.delete(proc));
    node.process = proc;
  }

  /** SIGKILLs node `i` and waits for it to be gone. */
  async kill9(i: number): Promise<void> {
    const proc = this.#node(i).process;
    if (!proc) return;
    proc.kill('SIGKILL');
    await proc.exited;
  }

  /** Starts node `i` again (after kill9 or stop) and waits until its API answers. */
  async restart(i: number): Promise<void> {
    const proc = this.#node(i).process;
    if (proc && proc.exitCode === null && proc.signalCode === null) await this.kill9(i);
    this.start(i);
    await this.waitFor(() => this.status(i), { what: `node ${i} to answer after restart` });
  }

  isRunning(i: number): boolean {
    const proc = this.#node(i).process;
    return !!proc && proc.exitCode === null && proc.signalCode === null;
  }

  /** Indexes of the nodes whose agent is running. */
  liveIndexes(): number[] {
    return this.nodes.filter((n) => this.isRunning(n.index)).map((n) => n.index);
  }

  /** An API client for node `i`: its HTTPS address, the cluster CA, the admin token. */
  api(i: number, timeoutMs = harnessLimits.requestTimeoutMs): ApiClient {
    const node = this.#node(i);
    return new ApiClient(
      { address: `https://127.0.0.1:${node.apiPort}`, caPem: this.#caPem, token: this.#adminToken },
      { timeoutMs },
    );
  }

  /** Node `i`'s own `/v1/status`, or undefined when it does not answer. */
  async status(i: number): Promise<StatusView | undefined> {
    try {
      return await this.api(i).request<StatusView>('/v1/status');
    } catch {
      return undefined;
    }
  }

  /**
   * The leader as every running node sees it: the index of the node that reports itself
   * leader, when every running node answers and names that same node as leader.
   */
  async leader(): Promise<number | undefined> {
    const live = this.liveIndexes();
    const views = await Promise.all(live.map((i) => this.status(i)));
    if (views.some((v) => v === undefined)) return undefined;
    const leaders = new Set(views.map((v) => v?.leaderId));
    if (leaders.size !== 1) return undefined;
    const [leaderId] = leaders;
    if (!leaderId) return undefined;
    const index = this.nodes.find((n) => String(n.nodeId) === leaderId)?.index;
    if (index === undefined || !live.includes(index)) return undefined;
    const own = views[live.indexOf(index)];
    return own?.role === 'leader' ? index : undefined;
  }

  /** The index of the node with Raft id `nodeId`. */
  indexOf(nodeId: number | string): number {
    const node = this.nodes.find((n) => String(n.nodeId) === String(nodeId));
    if (!node) throw new Error(`no node with id ${nodeId}`);
    return node.index;
  }

  /**
   * Polls `check` until it returns a value other than undefined/false, at most
   * `timeoutMs`; a throwing check counts as not yet. On timeout it throws with the last
   * error and the tail of every node's log.
   */
  async waitFor<T>(
    check: () => Promise<T | undefined | false> | T | undefined | false,
    options: WaitOptions,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? harnessLimits.waitTimeoutMsDefault;
    const deadline = performance.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = await check();
        if (value !== undefined && value !== false) return value;
      } catch (error) {
        lastError = error;
      }
      if (performance.now() >= deadline) break;
      await Bun.sleep(harnessLimits.pollIntervalMs);
    }
    const detail = lastError ? ` (last error: ${String(lastError)})` : '';
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for ${options.what}${detail}\n${this.logTails()}`,
    );
  }

  /** The tail of every node's log, for failure messages. */
  logTails(lines = harnessLimits.logTailLines): string {
    return this.nodes
      .map((n) => `--- node ${n.index} (id ${n.nodeId}) ${n.logPath}\n${tailOf(n.logPath, lines)}`)
      .join('\n');
  }

  /** SIGTERM to every agent, SIGKILL to those still running after the grace period. */
  async stopAll(): Promise<void> {
    const procs = this.nodes
      .map((n) => n.process)
      .filter((p): p is Subprocess => !!p && p.exitCode === null && p.signalCode === null);
    for (const p of procs) p.kill('SIGTERM');
    const exited = Promise.all(procs.map((p) => p.exited));
    const graceOver = Bun.sleep(harnessLimits.stopGraceMs).then(() => 'timeout' as const);
    if ((await Promise.race([exited, graceOver])) === 'timeout') {
      for (const p of procs) p.kill('SIGKILL');
      await exited;
    }
  }

  /** stopAll, then removes the temporary directory (unless BERTH_KEEP_TEST_DIR is set). */
  async destroy(): Promise<void> {
    await this.stopAll();
    if (!process.env.BERTH_KEEP_TEST_DIR) rmSync(this.dir, { recursive: true, force: true });
  }

  #newNode(): TestNode {
    if (this.nodes.length >= harnessLimits.nodesMax) {
      throw new Error(`a TestCluster runs at most ${harnessLimits.nodesMax} nodes`);
    }
    const index = this.nodes.length;
    const [apiPort, peerPort, freeHttpPort, httpsPort] = freePorts(4) as [
      number,
      number,
      number,
      number,
    ];
    const httpPort = this.#options.httpPortOf?.(index) ?? freeHttpPort;
    const node: TestNode = {
      index,
      nodeId: 0,
      name: `n${index + 1}`,
      dataDir: join(this.dir, `n${index + 1}`),
      logPath: join(this.dir, `n${index + 1}.log`),
      apiPort,
      peerPort,
      httpPort,
      httpsPort,
      process: undefined,
    };
    this.nodes.push(node);
    return node;
  }

  #nodeFlags(node: TestNode): string[] {
    return [
      '--data-dir',
      node.dataDir,
      '--name',
      node.name,
      '--bind',
      '127.0.0.1',
      '--api-port',
      String(node.apiPort),
      '--peer-port',
      String(node.peerPort),
      '--http-port',
      String(node.httpPort),
      '--https-port',
      String(node.httpsPort),
    ];
  }

  async #cli(argv: string[]) {
    const res = await runCli(argv, { BERTH_CONFIG_DIR: this.configDir });
    if (res.code !== 0) {
      throw new Error(
        `berth ${argv.slice(0, 2).join(' ')} exited ${res.code}: ${res.stderr}\n${this.logTails()}`,
      );
    }
    return res;
  }

  #node(i: number): TestNode {
    const node = this.nodes[i];
    if (!node) throw new Error(`no node ${i}`);
    return node;
  }

  #anyLive(): number {
    const live = this.liveIndexes();
    if (live.length === 0) throw new Error('no node is running');
    return live[0] as number;
  }
}
