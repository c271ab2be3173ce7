/**
 * Opening the node's state database: the state machine's tables, the actor cursors and,
 * on a node without Raft, the local log (all in `migrations/state/`).
 */
import { fileURLToPath } from 'node:url';
import { type OpenedDatabase, openDatabase } from './db.ts';

/** The state database's drizzle-kit migrations, resolved from this file's location. */
export const stateMigrationsFolder = fileURLToPath(
  new URL('../../migrations/state', import.meta.url),
);

/**
 * Opens the state database at `path` (or ':memory:') and applies its migrations.
 * `synchronous` is explicit on purpose: `NORMAL` is enough when the state is derived from
 * a Raft log kept elsewhere, but a database that also holds the local log is the source
 * of truth and needs `FULL` (LocalLog asserts it).
 */
export function openStateDatabase(
  path: string,
  options: { synchronous: 'FULL' | 'NORMAL' },
): OpenedDatabase {
  return openDatabase(path, {
    migrationsFolder: stateMigrationsFolder,
    synchronous: options.synchronous,
  });
}
