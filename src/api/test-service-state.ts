/**
 * The test service's own small state: its log entry kinds, its tables and how a committed
 * entry changes them. Kept apart from the service class (test-service.ts) so each file
 * holds one idea; the real state machine lives in src/state/.
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { StateTx } from '../mailbox/log-consumer.ts';
import {
  type DefinitionsOf,
  defineMessageKinds,
  replicated,
  type TypedEntry,
} from '../mailbox/message-kinds.ts';
import { type JobSpec, NameSchema } from './job-spec.ts';

export const at = { atMs: z.number().int().nonnegative() };
export const RoleSchema = z.enum(['admin', 'deploy', 'read-only']);

/**
 * A job as the log carries it: the NORMALISED spec the API produced with `JobSpecSchema`
 * (authoring form in, normalised out), so it cannot be parsed with that schema again. The
 * entry is checked for the fields this service reads; the rest was validated at the edge.
 */
export const StoredJobFieldsSchema = z.looseObject({
  name: NameSchema,
  count: z.number().int().nonnegative(),
  driver: z.looseObject({ kind: z.enum(['docker', 'exec']) }),
});
export const StoredJobSchema = z.custom<JobSpec>(
  (value) => StoredJobFieldsSchema.safeParse(value).success,
  'a normalised job spec',
);

/** This service's log entry types (tags are local to its own log). */
export const testServiceKinds = defineMessageKinds({
  'job.registered': replicated(1, z.strictObject({ job: StoredJobSchema, ...at })),
  'job.stopped': replicated(2, z.strictObject({ name: z.string(), ...at })),
  'secret.put': replicated(
    3,
    z.strictObject({
      name: z.string(),
      ciphertext: z.string(),
      iv: z.string(),
      tag: z.string(),
      ...at,
    }),
  ),
  'secret.deleted': replicated(4, z.strictObject({ name: z.string(), ...at })),
  'token.created': replicated(
    5,
    z.strictObject({
      id: z.string(),
      name: z.string(),
      role: RoleSchema,
      hashHex: z.string().regex(/^[0-9a-f]{64}$/),
      ...at,
    }),
  ),
  'token.revoked': replicated(6, z.strictObject({ id: z.string(), ...at })),
  'node.registered': replicated(
    7,
    z.strictObject({
      id: z.string(),
      name: z.string(),
      address: z.string(),
      status: z.string(),
      voter: z.boolean(),
      ...at,
    }),
  ),
  'allocation.updated': replicated(
    8,
    z.strictObject({
      id: z.string(),
      job: z.string(),
      jobVersion: z.number().int(),
      node: z.string(),
      status: z.string(),
      ...at,
    }),
  ),
  'deployment.updated': replicated(
    9,
    z.strictObject({
      id: z.string(),
      job: z.string(),
      jobVersion: z.number().int(),
      status: z.string(),
      ...at,
    }),
  ),
  'deployment.promoted': replicated(10, z.strictObject({ id: z.string(), ...at })),
  'job.maintenance': replicated(
    11,
    z.strictObject({ name: z.string(), message: z.string().nullable(), ...at }),
  ),
});
export type Kinds = DefinitionsOf<typeof testServiceKinds>;
export type EntryType = keyof Kinds & string;

export const tablesSql = `
CREATE TABLE t_jobs (name TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL, log_index INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, maintenance_message TEXT);
CREATE TABLE t_job_versions (name TEXT NOT NULL, version INTEGER NOT NULL, spec TEXT NOT NULL, log_index INTEGER NOT NULL, registered_at_ms INTEGER NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE t_secrets (name TEXT PRIMARY KEY, version INTEGER NOT NULL, ciphertext TEXT NOT NULL, iv TEXT NOT NULL, tag TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);
CREATE TABLE t_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash_hex TEXT NOT NULL UNIQUE, created_at_ms INTEGER NOT NULL);
CREATE TABLE t_nodes (id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, status TEXT NOT NULL, voter INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
CREATE TABLE t_allocations (id TEXT PRIMARY KEY, job TEXT NOT NULL, job_version INTEGER NOT NULL, node TEXT NOT NULL, status TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);
CREATE TABLE t_deployments (id TEXT PRIMARY KEY, job TEXT NOT NULL, job_version INTEGER NOT NULL, status TEXT NOT NULL, updated_at_ms INTEGER NOT NULL, promoted INTEGER NOT NULL DEFAULT 0);
`;

/** Applies one committed entry to the tables (inside the consumer's transaction). */
export function applyEntry(tx: StateTx, entry: TypedEntry<Kinds, EntryType>): void {
  switch (entry.type) {
    case 'job.registered': {
      const { job } = entry.data;
      const spec = JSON.stringify(job);
      // drizzle's raw `all` returns objects (its raw `get` returns a bare value array).
      const prev = tx.all<{ version: number }>(
        sql`SELECT version FROM t_jobs WHERE name = ${job.name}`,
      );
      const version = (prev[0]?.version ?? 0) + 1;
      tx.run(
        // An upsert, not a replace: maintenance survives a new version, as in the state machine.
        sql`INSERT INTO t_jobs (name, version, status, spec, log_index, updated_at_ms) VALUES (${job.name}, ${version}, 'running', ${spec}, ${entry.index}, ${entry.data.atMs})
          ON CONFLICT (name) DO UPDATE SET version = excluded.version, status = excluded.status, spec = excluded.spec, log_index = excluded.log_index, updated_at_ms = excluded.updated_at_ms`,
      );
      tx.run(
        sql`INSERT INTO t_job_versions VALUES (${job.name}, ${version}, ${spec}, ${entry.index}, ${entry.data.atMs})`,
      );
      return;
    }
    case 'job.stopped':
      tx.run(
        sql`UPDATE t_jobs SET status = 'stopped', log_index = ${entry.index}, updated_at_ms = ${entry.data.atMs} WHERE name = ${entry.data.name}`,
      );
      return;
    case 'secret.put':
      tx.run(sql`INSERT INTO t_secrets VALUES (${entry.data.name}, 1, ${entry.data.ciphertext}, ${entry.data.iv}, ${entry.data.tag}, ${entry.data.atMs})
        ON CONFLICT (name) DO UPDATE SET version = version + 1, ciphertext = excluded.ciphertext, iv = excluded.iv, tag = excluded.tag, updated_at_ms = excluded.updated_at_ms`);
      return;
    case 'secret.deleted':
      tx.run(sql`DELETE FROM t_secrets WHERE name = ${entry.data.name}`);
      return;
    case 'token.created':
      tx.run(
        sql`INSERT INTO t_tokens VALUES (${entry.data.id}, ${entry.data.name}, ${entry.data.role}, ${entry.data.hashHex}, ${entry.data.atMs})`,
      );
      return;
    case 'token.revoked':
      tx.run(sql`DELETE FROM t_tokens WHERE id = ${entry.data.id}`);
      return;
    case 'node.registered':
      tx.run(
        sql`INSERT OR REPLACE INTO t_nodes VALUES (${entry.data.id}, ${entry.data.name}, ${entry.data.address}, ${entry.data.status}, ${entry.data.voter ? 1 : 0}, ${entry.data.atMs})`,
      );
      return;
    case 'allocation.updated':
      tx.run(
        sql`INSERT OR REPLACE INTO t_allocations VALUES (${entry.data.id}, ${entry.data.job}, ${entry.data.jobVersion}, ${entry.data.node}, ${entry.data.status}, ${entry.data.atMs})`,
      );
      return;
    case 'deployment.updated':
      tx.run(
        sql`INSERT INTO t_deployments (id, job, job_version, status, updated_at_ms) VALUES (${entry.data.id}, ${entry.data.job}, ${entry.data.jobVersion}, ${entry.data.status}, ${entry.data.atMs})
          ON CONFLICT (id) DO UPDATE SET job = excluded.job, job_version = excluded.job_version, status = excluded.status, updated_at_ms = excluded.updated_at_ms`,
      );
      return;
    case 'deployment.promoted':
      // As the state machine does: only an active deployment can be promoted.
      tx.run(
        sql`UPDATE t_deployments SET promoted = 1, updated_at_ms = ${entry.data.atMs} WHERE id = ${entry.data.id} AND status IN ('running', 'paused')`,
      );
      return;
    case 'job.maintenance':
      tx.run(
        sql`UPDATE t_jobs SET maintenance_message = ${entry.data.message}, log_index = ${entry.index}, updated_at_ms = ${entry.data.atMs} WHERE name = ${entry.data.name}`,
      );
      return;
  }
}

export const consumedTypes = Object.keys({
  'job.registered': 1,
  'job.stopped': 1,
  'secret.put': 1,
  'secret.deleted': 1,
  'token.created': 1,
  'token.revoked': 1,
  'node.registered': 1,
  'allocation.updated': 1,
  'deployment.updated': 1,
  'deployment.promoted': 1,
  'job.maintenance': 1,
} satisfies Record<EntryType, 1>) as EntryType[];
