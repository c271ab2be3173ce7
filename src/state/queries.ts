/**
 * Read helpers over the state database, for the API, the scheduler's snapshot and the
 * supervisors. Rows are a trust boundary (STYLE.md rule 6): JSON columns are parsed back
 * with their schemas, and a row that fails is a `state_corrupt` error, not a bad value.
 *
 * Every list is ordered by a key, so two nodes with the same state answer identically.
 */
import type { Database } from 'bun:sqlite';
import { and, asc, desc, eq, inArray, type SQL } from 'drizzle-orm';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import type { StateTx } from '../mailbox/log-consumer.ts';
import {
  actorCursors,
  allocations,
  deployments,
  evaluations,
  jobs,
  jobVersions,
  joinTokens,
  nodes,
  rejectedEntries,
  secrets,
  stateMeta,
  tokens,
} from '../storage/state-schema.ts';
import { stateActorName } from './state-machine.ts';

/** A drizzle handle or a transaction: queries work inside apply's transaction too. */
export type StateReader = Pick<BunSQLiteDatabase, 'select'> | Pick<StateTx, 'select'>;

const StringMap = z.record(z.string(), z.string());
const PortMap = z.record(z.string(), z.number().int());
const JsonObject = z.record(z.string(), z.unknown());

function parseJson<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BerthError('state_corrupt', `${what} holds invalid JSON`, { what });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new BerthError('state_corrupt', `${what} is malformed`, { what });
  return parsed.data;
}

/** Where the state machine stands: its cursor (every entry up to it is processed). */
export interface StatePosition {
  /** The state actor's cursor: the last log index processed (applied or skipped). */
  appliedIndex: number;
  /** Index and term of the last state command applied (0 when none). */
  lastCommandIndex: number;
  lastCommandTerm: number;
}

export function getStatePosition(db: StateReader): StatePosition {
  const cursor = db.select().from(actorCursors).where(eq(actorCursors.actor, stateActorName)).get();
  const meta = db.select().from(stateMeta).where(eq(stateMeta.id, 1)).get();
  return {
    appliedIndex: cursor?.appliedIndex ?? 0,
    lastCommandIndex: meta?.appliedIndex ?? 0,
    lastCommandTerm: meta?.appliedTerm ?? 0,
  };
}

export type NodeView = ReturnType<typeof toNode>;

function toNode(row: typeof nodes.$inferSelect) {
  const { cpuMhz, memoryMb, labels, ...rest } = row;
  return {
    ...rest,
    labels: parseJson(StringMap, labels, `node ${row.id} labels`),
    resources: { cpuMhz, memoryMb },
  };
}

export function listNodes(db: StateReader): NodeView[] {
  return db.select().from(nodes).orderBy(asc(nodes.id)).all().map(toNode);
}

export function getNode(db: StateReader, id: string): NodeView | undefined {
  const row = db.select().from(nodes).where(eq(nodes.id, id)).get();
  return row && toNode(row);
}

export interface JobView {
  id: string;
  version: number;
  status: 'running' | 'stopped';
  spec: Record<string, unknown>;
  submittedAtMs: number;
  modifyIndex: number;
  /** Null unless the job is in maintenance; then the message its routes answer with. */
  maintenanceMessage: string | null;
}

export function getJob(db: StateReader, id: string): JobView | undefined {
  const job = db.select().from(jobs).where(eq(jobs.id, id)).get();
  if (!job) return undefined;
  const version = db
    .select({ spec: jobVersions.spec })
    .from(jobVersions)
    .where(and(eq(jobVersions.jobId, id), eq(jobVersions.version, job.version)))
    .get();
  if (!version) throw new BerthError('state_corrupt', `job ${id} lacks its current version`);
  return { ...job, spec: parseJson(JsonObject, version.spec, `job ${id} spec`) };
}

export function listJobs(db: StateReader): JobView[] {
  const ids = db.select({ id: jobs.id }).from(jobs).orderBy(asc(jobs.id)).all();
  return ids.map(({ id }) => getJob(db, id)!);
}

export interface JobVersionView {
  version: number;
  spec: Record<string, unknown>;
  submittedAtMs: number;
  logIndex: number;
}

/** The kept versions of a job, newest first (at most limits.stateJobVersionsKeptMax). */
export function jobHistory(db: StateReader, jobId: string): JobVersionView[] {
  return db
    .select()
    .from(jobVersions)
    .where(eq(jobVersions.jobId, jobId))
    .orderBy(desc(jobVersions.version))
    .all()
    .map(({ version, spec, submittedAtMs, logIndex }) => ({
      version,
      spec: parseJson(JsonObject, spec, `job ${jobId} v${version} spec`),
      submittedAtMs,
      logIndex,
    }));
}

type AllocationRow = typeof allocations.$inferSelect;
export type AllocationView = ReturnType<typeof toAllocation>;

function toAllocation(row: AllocationRow) {
  const { cpuMhz, memoryMb, ports, ...rest } = row;
  return {
    ...rest,
    ports: parseJson(PortMap, ports, `allocation ${row.id} ports`),
    resources: { cpuMhz, memoryMb },
  };
}

export interface AllocationFilter {
  jobId?: string;
  nodeId?: string;
  deploymentId?: string;
  clientStatus?: readonly AllocationRow['clientStatus'][];
  desiredStatus?: AllocationRow['desiredStatus'];
}

export function listAllocations(db: StateReader, filter: AllocationFilter = {}): AllocationView[] {
  const where: SQL[] = [];
  if (filter.jobId !== undefined) where.push(eq(allocations.jobId, filter.jobId));
  if (filter.nodeId !== undefined) where.push(eq(allocations.nodeId, filter.nodeId));
  if (filter.deploymentId !== undefined) {
    where.push(eq(allocations.deploymentId, filter.deploymentId));
  }
  if (filter.clientStatus !== undefined) {
    where.push(inArray(allocations.clientStatus, [...filter.clientStatus]));
  }
  if (filter.desiredStatus !== undefined) {
    where.push(eq(allocations.desiredStatus, filter.desiredStatus));
  }
  return db
    .select()
    .from(allocations)
    .where(and(...where))
    .orderBy(asc(allocations.id))
    .all()
    .map(toAllocation);
}

export function getAllocation(db: StateReader, id: string): AllocationView | undefined {
  const row = db.select().from(allocations).where(eq(allocations.id, id)).get();
  return row && toAllocation(row);
}

export function listDeployments(
  db: StateReader,
  filter: { jobId?: string } = {},
): (typeof deployments.$inferSelect)[] {
  const where = filter.jobId === undefined ? undefined : eq(deployments.jobId, filter.jobId);
  return db.select().from(deployments).where(where).orderBy(asc(deployments.id)).all();
}

/**
 * The deployment `berth promote` acts on: the job's newest running or paused deployment
 * of its current version, or undefined when there is none (or no such job).
 */
export function activeDeploymentOf(
  db: StateReader,
  jobId: string,
): typeof deployments.$inferSelect | undefined {
  const job = db.select({ version: jobs.version }).from(jobs).where(eq(jobs.id, jobId)).get();
  if (!job) return undefined;
  return db
    .select()
    .from(deployments)
    .where(
      and(
        eq(deployments.jobId, jobId),
        eq(deployments.jobVersion, job.version),
        inArray(deployments.status, ['running', 'paused']),
      ),
    )
    .orderBy(desc(deployments.createdAtMs), desc(deployments.id))
    .get();
}

export function listEvaluations(
  db: StateReader,
  filter: { jobId?: string; status?: (typeof evaluations.$inferSelect)['status'] } = {},
): (typeof evaluations.$inferSelect)[] {
  const where: SQL[] = [];
  if (filter.jobId !== undefined) where.push(eq(evaluations.jobId, filter.jobId));
  if (filter.status !== undefined) where.push(eq(evaluations.status, filter.status));
  return db
    .select()
    .from(evaluations)
    .where(and(...where))
    .orderBy(asc(evaluations.id))
    .all();
}

/** Secret names and metadata; never the ciphertext (use getSealedSecret to decrypt one). */
export function listSecrets(db: StateReader) {
  return db
    .select({
      name: secrets.name,
      keyId: secrets.keyId,
      version: secrets.version,
      updatedAtMs: secrets.updatedAtMs,
    })
    .from(secrets)
    .orderBy(asc(secrets.name))
    .all();
}

/** The sealed form of one secret, for a node that holds the keyring to open it. */
export function getSealedSecret(
  db: StateReader,
  name: string,
): { ciphertext: string; nonce: string; keyId: string; version: number } | undefined {
  return db
    .select({
      ciphertext: secrets.ciphertext,
      nonce: secrets.nonce,
      keyId: secrets.keyId,
      version: secrets.version,
    })
    .from(secrets)
    .where(eq(secrets.name, name))
    .get();
}

export type TokenView = typeof tokens.$inferSelect;

/** The token with this SHA-256 hash, revoked or not; the caller judges expiry and revocation. */
export function findTokenByHash(db: StateReader, hash: string): TokenView | undefined {
  return db.select().from(tokens).where(eq(tokens.hash, hash)).get();
}

export function listTokens(db: StateReader): TokenView[] {
  return db.select().from(tokens).orderBy(asc(tokens.id)).all();
}

export type JoinTokenView = typeof joinTokens.$inferSelect;

export function findJoinTokenByHash(db: StateReader, hash: string): JoinTokenView | undefined {
  return db.select().from(joinTokens).where(eq(joinTokens.hash, hash)).get();
}

export function listJoinTokens(db: StateReader): JoinTokenView[] {
  return db.select().from(joinTokens).orderBy(asc(joinTokens.id)).all();
}

/** Entries applied as no-ops, oldest first (the newest limits.stateRejectedEntriesKeptMax). */
export function listRejectedEntries(db: StateReader): (typeof rejectedEntries.$inferSelect)[] {
  return db.select().from(rejectedEntries).orderBy(asc(rejectedEntries.logIndex)).all();
}

/** The state tables, in digest order. */
export const stateTableNames = [
  'state_meta',
  'nodes',
  'jobs',
  'job_versions',
  'allocations',
  'deployments',
  'evaluations',
  'secrets',
  'tokens',
  'join_tokens',
  'rejected_entries',
  'certificates',
  'cert_orders',
  'acme_challenges',
] as const;

/**
 * A SHA-256 over every state table's rows in primary-key order. Two nodes that applied
 * the same entries have the same digest; simulations and tests compare it.
 */
export function stateDigest(sqlite: Database): string {
  const hash = new Bun.CryptoHasher('sha256');
  for (const table of stateTableNames) {
    // Table names come from the constant list above, never from input.
    const rows = sqlite.query(`SELECT * FROM ${table} ORDER BY 1, 2`).values();
    hash.update(`${table}\n${JSON.stringify(rows)}\n`);
  }
  return hash.digest('hex');
}

/**
 * Why the entry at `logIndex` was applied as a no-op, or undefined when it took effect
 * (or was pruned from the bounded table). The API asks this after a commit to answer a
 * proposal with its real outcome.
 */
export function findRejectedEntry(
  db: StateReader,
  logIndex: number,
): typeof rejectedEntries.$inferSelect | undefined {
  return db.select().from(rejectedEntries).where(eq(rejectedEntries.logIndex, logIndex)).get();
}
