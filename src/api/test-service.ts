/**
 * A real `ClusterService` for tests and single-process development: commands go through a
 * single-node `LocalLog` (SQLite, validated, durable) and a `LogConsumer` applies them to
 * tables in the same state database, exactly as the replicated path does; reads query
 * those tables. Nothing is mocked: a command that the API refuses never reaches the log, and
 * tests prove it by comparing the log's commit index.
 *
 * The tables here are this service's own (created with plain SQL at start-up); the real
 * state machine has its schema and migrations in `src/state/`. Secrets are sealed with
 * AES-256-GCM under a per-instance key, so the log carries ciphertext only.
 *
 * Test controls simulate what a one-node cluster cannot show by itself: `setLeaderless`
 * (an election in progress: `not_leader`), `dropProposals` (a full proposal queue).
 */
import type { Database } from 'bun:sqlite';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import type { z } from 'zod';
import { defaultMaintenanceMessage } from '../../actors/state/commands.ts';
import { assert } from '../core/assert.ts';
import { type Clock, realClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { LogEntry } from '../log/committed-log.ts';
import { LocalLog } from '../log/local-log.ts';
import { type LogActor, LogConsumer } from '../mailbox/log-consumer.ts';
import { constantTimeEqual } from '../secrets/tokens.ts';
import { openStateDatabase } from '../storage/state-db.ts';
import type * as api from './cluster-service.ts';
import { defaultEventOf } from './event-feed.ts';
import {
  applyEntry,
  consumedTypes,
  type EntryType,
  type Kinds,
  tablesSql,
  testServiceKinds,
} from './test-service-state.ts';

export interface TestClusterServiceOptions {
  /** Database path; default ':memory:'. */
  path?: string;
  clock?: Clock;
  nodeId?: string;
}

/** A single-node `ClusterService` over a real LocalLog and state database. */
export class TestClusterService implements api.ClusterService {
  readonly events: LocalLog;
  readonly #sqlite: Database;
  readonly #consumer: LogConsumer<Kinds, EntryType>;
  readonly #clock: Clock;
  readonly #nodeId: string;
  readonly #key = randomBytes(32);
  #leaderless = false;
  #dropProposals = 0;
  #barriers = 0;
  /** Output lines per allocation id, oldest first (a ring of supervisorLogLinesMax). */
  readonly #logs = new Map<string, api.AllocationLogLine[]>();
  /** Nodes whose allocations' logs cannot be fetched (`node_unreachable`). */
  readonly #unreachableNodes = new Set<string>();

  constructor(options: TestClusterServiceOptions = {}) {
    const opened = openStateDatabase(options.path ?? ':memory:', { synchronous: 'FULL' });
    opened.sqlite.run(tablesSql);
    this.#sqlite = opened.sqlite;
    this.#clock = options.clock ?? realClock;
    this.#nodeId = options.nodeId ?? 'node-1';
    this.events = new LocalLog(opened, testServiceKinds);
    const actor: LogActor<Kinds, EntryType> = {
      name: 'api-test-state',
      consumes: consumedTypes,
      apply: applyEntry,
    };
    this.#consumer = new LogConsumer({
      db: opened.db as BunSQLiteDatabase,
      log: this.events,
      kinds: testServiceKinds,
      actor,
    });
  }

  close(): void {
    this.#sqlite.close();
  }

  /** Simulates an election: while true, proposals and barriers reject `not_leader`. */
  setLeaderless(leaderless: boolean): void {
    this.#leaderless = leaderless;
  }

  /** The next `count` proposals are refused with `proposal_dropped` (a full queue). */
  dropProposals(count: number): void {
    this.#dropProposals = count;
  }

  /** How many read barriers were requested (tests check that `?stale=true` skips it). */
  barrierCount(): number {
    return this.#barriers;
  }

  /**
   * Appends an entry as another actor would (the supervisor reporting an allocation, a node
   * registering) and applies it. Returns its index.
   */
  record<T extends EntryType>(type: T, data: Omit<z.input<Kinds[T]['schema']>, 'atMs'>): number {
    const entry = this.events.append(type, { ...data, atMs: this.#clock.wallMs() });
    this.#applyCommitted();
    return entry.index;
  }

  status(): api.ClusterStatus {
    const commitIndex = this.events.commitIndex();
    const leaderless = this.#leaderless;
    return {
      nodeId: this.#nodeId,
      role: leaderless ? 'candidate' : 'leader',
      leaderId: leaderless ? null : this.#nodeId,
      term: 1,
      commitIndex,
      appliedIndex: this.#consumer.cursor(),
    };
  }

  async readBarrier(): Promise<void> {
    this.#barriers++;
    if (this.#leaderless) throw notLeader();
    this.#applyCommitted();
  }

  async propose(command: api.ClusterCommand): Promise<api.ProposeAck> {
    if (this.#leaderless) throw notLeader();
    if (this.#dropProposals > 0) {
      this.#dropProposals--;
      throw new BerthError('proposal_dropped', 'too many proposals waiting to commit');
    }
    const [type, data] = this.#entryOf(command);
    const entry = this.events.append(type, { ...data, atMs: this.#clock.wallMs() });
    this.#applyCommitted();
    return { index: entry.index };
  }

  listNodes(q: api.ListQuery): api.NodeView[] {
    const rows = this.#all<NodeRow>('SELECT * FROM t_nodes ORDER BY id LIMIT ?', q.limit);
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      address: r.address,
      status: r.status,
      voter: r.voter === 1,
      updatedAtMs: r.updated_at_ms,
    }));
  }

  listJobs(q: api.ListQuery): api.JobView[] {
    return this.#all<JobRow>('SELECT * FROM t_jobs ORDER BY name LIMIT ?', q.limit).map(jobView);
  }

  getJob(name: string): api.JobView | null {
    const row = this.#sqlite
      .query('SELECT * FROM t_jobs WHERE name = ?')
      .get(name) as JobRow | null;
    return row ? jobView(row) : null;
  }

  jobHistory(name: string, q: api.ListQuery): api.JobVersionView[] {
    const rows = this.#all<JobVersionRow>(
      'SELECT * FROM t_job_versions WHERE name = ? ORDER BY version DESC LIMIT ?',
      name,
      q.limit,
    );
    return rows.map((r) => ({
      name: r.name,
      version: r.version,
      spec: JSON.parse(r.spec),
      index: r.log_index,
      registeredAtMs: r.registered_at_ms,
    }));
  }

  listAllocations(q: api.AllocationQuery): api.AllocationView[] {
    const rows = this.#all<AllocRow>(
      'SELECT * FROM t_allocations WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR node = ?2) ORDER BY id LIMIT ?3',
      q.job ?? null,
      q.node ?? null,
      q.limit,
    );
    return rows.map((r) => ({
      id: r.id,
      job: r.job,
      jobVersion: r.job_version,
      node: r.node,
      status: r.status,
      updatedAtMs: r.updated_at_ms,
    }));
  }

  listDeployments(q: api.DeploymentQuery): api.DeploymentView[] {
    const rows = this.#all<DeployRow>(
      'SELECT * FROM t_deployments WHERE (?1 IS NULL OR job = ?1) ORDER BY id LIMIT ?2',
      q.job ?? null,
      q.limit,
    );
    return rows.map(deploymentView);
  }

  /** The job's newest active deployment of its current version, promoted (see the contract). */
  async promoteDeployment(
    jobName: string,
  ): Promise<{ index: number; deployment: api.DeploymentView }> {
    if (this.#leaderless) throw notLeader();
    this.#applyCommitted();
    const job = this.getJob(jobName);
    if (!job) throw new BerthError('job_not_found', `no job named ${JSON.stringify(jobName)}`);
    const row = this.#sqlite
      .query(
        "SELECT id FROM t_deployments WHERE job = ? AND job_version = ? AND status IN ('running', 'paused') ORDER BY id DESC LIMIT 1",
      )
      .get(jobName, job.version) as { id: string } | null;
    if (!row) {
      throw new BerthError(
        'deployment_not_found',
        `job ${JSON.stringify(jobName)} has no running deployment for version ${job.version}`,
      );
    }
    const entry = this.events.append('deployment.promoted', {
      id: row.id,
      atMs: this.#clock.wallMs(),
    });
    this.#applyCommitted();
    const updated = this.#sqlite
      .query('SELECT * FROM t_deployments WHERE id = ?')
      .get(row.id) as DeployRow;
    return { index: entry.index, deployment: deploymentView(updated) };
  }

  /** Maintenance on (with the message, or the state machine's default) or off. */
  async setJobMaintenance(
    jobName: string,
    enabled: boolean,
    message?: string,
  ): Promise<{ index: number; maintenance: api.JobMaintenanceView }> {
    if (this.#leaderless) throw notLeader();
    this.#applyCommitted();
    if (!this.getJob(jobName)) {
      throw new BerthError('job_not_found', `no job named ${JSON.stringify(jobName)}`);
    }
    const entry = this.events.append('job.maintenance', {
      name: jobName,
      message: enabled ? (message ?? defaultMaintenanceMessage) : null,
      atMs: this.#clock.wallMs(),
    });
    this.#applyCommitted();
    const maintenance = this.getJob(jobName)?.maintenance;
    // Jobs are never deleted, so the row read above is still there.
    assert(maintenance, `job ${jobName} lost its row after maintenance was applied`);
    return { index: entry.index, maintenance };
  }

  listSecrets(q: api.ListQuery): api.SecretMetaView[] {
    const rows = this.#all<SecretRow>('SELECT * FROM t_secrets ORDER BY name LIMIT ?', q.limit);
    return rows.map((r) => ({ name: r.name, version: r.version, updatedAtMs: r.updated_at_ms }));
  }

  readSecret(name: string): string | null {
    const row = this.#sqlite
      .query('SELECT * FROM t_secrets WHERE name = ?')
      .get(name) as SecretRow | null;
    if (!row) return null;
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(row.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(row.tag, 'base64'));
    return Buffer.concat([
      decipher.update(Buffer.from(row.ciphertext, 'base64')),
      decipher.final(),
    ]).toString('utf8');
  }

  listTokens(q: api.ListQuery): api.TokenView[] {
    return this.#all<TokenRow>(
      'SELECT * FROM t_tokens ORDER BY created_at_ms, id LIMIT ?',
      q.limit,
    ).map(tokenView);
  }

  getToken(id: string): api.TokenView | null {
    const row = this.#sqlite
      .query('SELECT * FROM t_tokens WHERE id = ?')
      .get(id) as TokenRow | null;
    return row ? tokenView(row) : null;
  }

  findToken(hashHex: string): api.TokenPrincipal | null {
    const row = this.#sqlite
      .query('SELECT * FROM t_tokens WHERE hash_hex = ?')
      .get(hashHex) as TokenRow | null;
    // The index probe found a candidate; confirm it in constant time (defence in depth).
    if (!row || !constantTimeEqual(row.hash_hex, hashHex)) return null;
    return { id: row.id, role: row.role as api.Role };
  }

  raftPeers(): api.RaftPeerView[] {
    return [{ id: 1, address: '127.0.0.1', voter: true, leader: !this.#leaderless }];
  }

  async transferLeadership(to: number): Promise<void> {
    if (this.#leaderless) throw notLeader();
    if (to === 1) throw new BerthError('already_leader', 'node 1 is already the leader');
    throw new BerthError('peer_not_found', `no peer ${to} in this cluster`);
  }

  async removePeer(id: number): Promise<api.ProposeAck> {
    if (this.#leaderless) throw notLeader();
    if (id === 1) throw new BerthError('conflict', 'cannot remove the only voter');
    throw new BerthError('peer_not_found', `no peer ${id} in this cluster`);
  }

  /**
   * Records a line of an allocation's output as its node's supervisor would (stamped with
   * this service's wall clock unless `atMs` is given). The allocation need not exist yet.
   */
  appendLog(allocId: string, stream: 'stdout' | 'stderr', line: string, atMs?: number): void {
    let lines = this.#logs.get(allocId);
    if (!lines) {
      lines = [];
      this.#logs.set(allocId, lines);
    }
    lines.push({ stream, line, atMs: atMs ?? this.#clock.wallMs() });
    if (lines.length > limits.supervisorLogLinesMax) lines.shift();
  }

  /** Simulates a node outage: its allocations' logs reject `node_unreachable`. */
  setNodeUnreachable(node: string, unreachable: boolean): void {
    if (unreachable) this.#unreachableNodes.add(node);
    else this.#unreachableNodes.delete(node);
  }

  async allocationLogs(
    allocId: string,
    query: api.AllocationLogQuery,
  ): Promise<api.AllocationLogs> {
    const row = this.#sqlite.query('SELECT node FROM t_allocations WHERE id = ?').get(allocId) as {
      node: string;
    } | null;
    if (!row) throw new BerthError('allocation_not_found', `no allocation ${allocId}`);
    if (this.#unreachableNodes.has(row.node)) {
      throw new BerthError('node_unreachable', `node ${row.node} did not answer`);
    }
    const since = query.sinceMs;
    const lines = (this.#logs.get(allocId) ?? []).filter(
      (l) => since === undefined || l.atMs >= since,
    );
    const tail =
      query.tail === undefined ? lines : lines.slice(Math.max(0, lines.length - query.tail));
    return { lines: tail.map((l) => ({ ...l })), node: row.node };
  }

  toEvent(entry: LogEntry): api.ClusterEvent | null {
    return defaultEventOf(entry);
  }

  #entryOf(command: api.ClusterCommand): [EntryType, Record<string, unknown>] {
    switch (command.type) {
      case 'job.register':
        return ['job.registered', { job: command.job }];
      case 'job.stop':
        return ['job.stopped', { name: command.name }];
      case 'secret.put':
        return ['secret.put', { name: command.name, ...this.#seal(command.value) }];
      case 'secret.delete':
        return ['secret.deleted', { name: command.name }];
      case 'token.create':
        return [
          'token.created',
          { id: command.id, name: command.name, role: command.role, hashHex: command.hashHex },
        ];
      case 'token.revoke':
        return ['token.revoked', { id: command.id }];
    }
  }

  #seal(plaintext: string): { ciphertext: string; iv: string; tag: string } {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      ciphertext: ciphertext.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
  }

  /** Applies everything committed, so a read after a write sees it (the propose contract). */
  #applyCommitted(): void {
    const rounds = Math.ceil(this.events.commitIndex() / limits.logReadBatchMax) + 1;
    for (let i = 0; i < rounds; i++) {
      if (this.#consumer.drain(1).status === 'caught_up') return;
    }
  }

  #all<T>(query: string, ...params: Array<string | number | null>): T[] {
    return this.#sqlite.query(query).all(...params) as T[];
  }
}

function notLeader(): BerthError {
  return new BerthError('not_leader', 'no leader is known (election in progress)', {
    leaderHint: 0,
  });
}

interface JobRow {
  name: string;
  version: number;
  status: 'running' | 'stopped';
  spec: string;
  log_index: number;
  updated_at_ms: number;
  maintenance_message: string | null;
}
interface JobVersionRow {
  name: string;
  version: number;
  spec: string;
  log_index: number;
  registered_at_ms: number;
}
interface SecretRow {
  name: string;
  version: number;
  ciphertext: string;
  iv: string;
  tag: string;
  updated_at_ms: number;
}
interface TokenRow {
  id: string;
  name: string;
  role: string;
  hash_hex: string;
  created_at_ms: number;
}
interface NodeRow {
  id: string;
  name: string;
  address: string;
  status: string;
  voter: number;
  updated_at_ms: number;
}
interface AllocRow {
  id: string;
  job: string;
  job_version: number;
  node: string;
  status: string;
  updated_at_ms: number;
}
interface DeployRow {
  id: string;
  job: string;
  job_version: number;
  status: string;
  updated_at_ms: number;
  promoted: number;
}

function deploymentView(r: DeployRow): api.DeploymentView {
  return {
    id: r.id,
    job: r.job,
    jobVersion: r.job_version,
    status: r.status,
    promoted: r.promoted === 1,
    updatedAtMs: r.updated_at_ms,
  };
}

function jobView(r: JobRow): api.JobView {
  return {
    name: r.name,
    version: r.version,
    status: r.status,
    spec: JSON.parse(r.spec),
    index: r.log_index,
    updatedAtMs: r.updated_at_ms,
    maintenance: { enabled: r.maintenance_message !== null, message: r.maintenance_message },
  };
}

function tokenView(r: TokenRow): api.TokenView {
  return { id: r.id, name: r.name, role: r.role as api.Role, createdAtMs: r.created_at_ms };
}
