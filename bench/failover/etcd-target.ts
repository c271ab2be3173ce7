/**
 * A 3-member etcd cluster on 127.0.0.1 (Debian's `etcd-server` package) as the failover
 * baseline. Writes go through etcd's HTTP/JSON gateway (`POST /v3/kv/put`, base64 key and
 * value), the same client-side measurement as Berth's.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePorts } from '../../src/core/ports-testing.ts';
import type { FailoverTarget } from './target.ts';

export interface EtcdTimings {
  heartbeatMs: number;
  electionMs: number;
}

/** How long a member may take to answer after (re)start, in ms. */
const memberStartTimeoutMs = 20_000;
/** Bound of one status request, in ms. */
const statusTimeoutMs = 1_000;

interface Member {
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  process: Subprocess | undefined;
}

/** etcd processes still running, SIGKILLed if the bench dies before `destroy`. */
const liveEtcd = new Set<Subprocess>();
process.on('exit', () => {
  for (const p of liveEtcd) p.kill('SIGKILL');
});

const b64 = (text: string) => Buffer.from(text).toString('base64');

export class EtcdTarget implements FailoverTarget {
  readonly name: string;
  readonly nodeCount = 3;
  readonly #dir = mkdtempSync(join(tmpdir(), 'berth-bench-etcd-'));
  readonly #members: Member[];
  readonly #timings: EtcdTimings;
  #started = false;

  constructor(name: string, timings: EtcdTimings) {
    this.name = name;
    this.#timings = timings;
    const ports = freePorts(2 * this.nodeCount);
    this.#members = Array.from({ length: this.nodeCount }, (_, i) => ({
      name: `e${i + 1}`,
      dataDir: join(this.#dir, `e${i + 1}`),
      clientPort: ports[2 * i] as number,
      peerPort: ports[2 * i + 1] as number,
      process: undefined,
    }));
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.nodeCount; i++) this.#spawn(i);
    this.#started = true;
    await this.#waitUntil(async () => (await this.leader()) !== undefined, 'an etcd leader');
  }

  async leader(): Promise<number | undefined> {
    const live = this.#members.map((_, i) => i).filter((i) => this.#isRunning(i));
    const views = await Promise.all(live.map((i) => this.#status(i)));
    if (views.some((v) => v === undefined)) return undefined;
    if (new Set(views.map((v) => v?.leader)).size !== 1) return undefined;
    const own = views.findIndex((v) => v?.memberId === v?.leader);
    return own >= 0 ? live[own] : undefined;
  }

  async write(i: number, key: string, value: string, timeoutMs: number): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.#member(i).clientPort}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(key), value: b64(value) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await res.json()) as { header?: unknown; error?: string };
      return res.ok && body.header !== undefined && body.error === undefined;
    } catch {
      return false;
    }
  }

  async kill9(i: number): Promise<void> {
    const proc = this.#member(i).process;
    if (!proc) return;
    proc.kill('SIGKILL');
    await proc.exited;
  }

  async restart(i: number): Promise<void> {
    if (this.#isRunning(i)) await this.kill9(i);
    this.#spawn(i);
    await this.#waitUntil(
      async () => (await this.#status(i)) !== undefined,
      `etcd member ${i} to answer`,
    );
  }

  pid(i: number): number {
    const pid = this.#member(i).process?.pid;
    if (pid === undefined) throw new Error(`etcd member ${i} has no process`);
    return pid;
  }

  async healthy(): Promise<boolean> {
    if (!this.#members.every((_, i) => this.#isRunning(i))) return false;
    return (await this.leader()) !== undefined;
  }

  async destroy(): Promise<void> {
    for (const m of this.#members) {
      if (m.process) process.kill(m.process.pid, 'SIGCONT');
      m.process?.kill('SIGKILL');
    }
    await Promise.all(this.#members.map((m) => m.process?.exited));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #spawn(i: number): void {
    const m = this.#member(i);
    const cluster = this.#members.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
    const fd = openSync(join(this.#dir, `${m.name}.log`), 'a');
    m.process = Bun.spawn(
      [
        'etcd',
        ...['--name', m.name, '--data-dir', m.dataDir],
        ...['--listen-client-urls', `http://127.0.0.1:${m.clientPort}`],
        ...['--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`],
        ...['--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`],
        ...['--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`],
        ...['--initial-cluster', cluster, '--initial-cluster-token', 'berth-bench'],
        ...['--initial-cluster-state', this.#started ? 'existing' : 'new'],
        ...['--heartbeat-interval', String(this.#timings.heartbeatMs)],
        ...['--election-timeout', String(this.#timings.electionMs)],
      ],
      { stdin: 'ignore', stdout: fd, stderr: fd },
    );
    closeSync(fd);
    const proc = m.process;
    liveEtcd.add(proc);
    void proc.exited.then(() => liveEtcd.delete(proc));
  }

  async #status(i: number): Promise<{ memberId: string; leader: string } | undefined> {
    if (!this.#isRunning(i)) return undefined;
    try {
      const res = await fetch(
        `http://127.0.0.1:${this.#member(i).clientPort}/v3/maintenance/status`,
        {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(statusTimeoutMs),
        },
      );
      const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
      if (!body.header?.member_id || !body.leader || body.leader === '0') return undefined;
      return { memberId: body.header.member_id, leader: body.leader };
    } catch {
      return undefined;
    }
  }

  #isRunning(i: number): boolean {
    const proc = this.#member(i).process;
    return !!proc && proc.exitCode === null && proc.signalCode === null;
  }

  #member(i: number): Member {
    const m = this.#members[i];
    if (!m) throw new Error(`no etcd member ${i}`);
    return m;
  }

  async #waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = performance.now() + memberStartTimeoutMs;
    while (performance.now() < deadline) {
      if (await check()) return;
      await Bun.sleep(100);
    }
    throw new Error(`timed out after ${memberStartTimeoutMs} ms waiting for ${what}`);
  }
}
