/**
 * A few RaftHosts in one process for tests: SQLite storage in a temp dir, the in-process
 * transport, fast real ticks. Tests never assert timings; they wait with a bounded poll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRaftConfig, type RaftConfig } from '../../actors/leader-election/index.ts';
import type { ConfState, Entry } from '../../actors/leader-election/types.ts';
import { encodeLogCommand } from './log-entry-codec.ts';
import type { ProposalOutcome } from './proposal-tracker.ts';
import { RaftHost } from './raft-host.ts';
import { SqliteRaftStorage } from './sqlite-storage.ts';
import { InProcessNetwork } from './transport.ts';

/** Fast ticks keep tests short (election timeouts of 40–80 ms). */
export const testTickMs = 10;
/** Longest a test waits for a condition before failing. */
export const waitMsMax = 15_000;

export interface TestMember {
  host: RaftHost;
  storage: SqliteRaftStorage;
  applied: Entry[];
}

export interface StartOptions {
  /** Membership to bootstrap with when the storage is new; `{voters: [], learners: []}` to join later. */
  conf?: ConfState;
  /** Changes to the default Raft config (checkQuorum, …). */
  config?: Partial<RaftConfig>;
  pendingReadsMax?: number;
}

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'berth-raft-host-'));
  readonly net = new InProcessNetwork();
  readonly members = new Map<number, TestMember>();
  readonly #voters: number[];

  constructor(voters: number[]) {
    this.#voters = voters;
  }

  /** Starts the bootstrap voters with the same options. */
  startVoters(options: StartOptions = {}): void {
    for (const id of this.#voters) this.start(id, options);
  }

  start(id: number, options: StartOptions = {}): TestMember {
    const storage = SqliteRaftStorage.open(join(this.dir, `node-${id}.db`));
    const fresh = storage.lastIndex() === 0 && storage.initialState().hardState.term === 0;
    if (fresh) storage.setConf(options.conf ?? { voters: this.#voters, learners: [] });
    const applied: Entry[] = [];
    const host = new RaftHost({
      config: { ...defaultRaftConfig(id), ...options.config },
      storage,
      transport: this.net.connect(id),
      apply: (entries) => applied.push(...entries),
      tickMs: testTickMs,
      seed: id * 7919,
      ...(options.pendingReadsMax ? { pendingReadsMax: options.pendingReadsMax } : {}),
    });
    host.start();
    const member = { host, storage, applied };
    this.members.set(id, member);
    return member;
  }

  member(id: number): TestMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`node ${id} is not running`);
    return m;
  }

  async stop(id: number): Promise<void> {
    const m = this.member(id);
    await m.host.close();
    m.storage.close();
    this.members.delete(id);
  }

  async close(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stop(id);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The leader among the running members, waiting for one to be elected. */
  leader(among: Iterable<number> = this.members.keys()): Promise<TestMember> {
    const ids = [...among];
    return waitFor('a leader', () =>
      ids.map((id) => this.members.get(id)).find((m) => m?.host.status().role === 'leader'),
    );
  }

  /** Running members other than `id`. */
  others(id: number): TestMember[] {
    return [...this.members.values()].filter((m) => m.host.id !== id);
  }
}

/** Polls `probe` until it returns a value (not undefined or false), up to `waitMsMax`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = performance.now() + waitMsMax;
  while (performance.now() < deadline) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Proposes `count` commands one after another, each acknowledged before the next. */
export async function proposeMany(
  host: RaftHost,
  count: number,
  tag: string,
): Promise<ProposalOutcome[]> {
  const outcomes: ProposalOutcome[] = [];
  for (let i = 0; i < count; i++) {
    outcomes.push(await host.propose(encodeLogCommand('test.cmd', { tag, i })));
  }
  return outcomes;
}

/** The error a promise rejects with, or a failure if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<{ code: string; details?: unknown }> {
  const settled = await p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (settled.ok) throw new Error(`expected a rejection, got ${JSON.stringify(settled.value)}`);
  return settled.error as { code: string; details?: unknown };
}
