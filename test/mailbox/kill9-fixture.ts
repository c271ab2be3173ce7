/**
 * What the kill -9 test and its child process share: the message kinds, the actor's
 * table and the actor itself. The actor inserts one row per entry inside the cursor's
 * transaction and then lingers there, so a SIGKILL usually lands inside an open
 * transaction — the case that must lose the row and the cursor move together.
 */
import type { Database } from 'bun:sqlite';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import { z } from 'zod';
import type { LogActor } from '../../src/mailbox/log-consumer.ts';
import {
  type DefinitionsOf,
  defineMessageKinds,
  replicated,
} from '../../src/mailbox/message-kinds.ts';

export const kill9Kinds = defineMessageKinds({
  'counter.add': replicated(1, z.object({ n: z.number().int().positive() })),
});
export type Kill9Kinds = DefinitionsOf<typeof kill9Kinds>;

export const appliedRows = sqliteTable('applied_rows', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  n: integer('n').notNull(),
});

/** Not a drizzle migration: this table exists only for the test's actor. */
export function createAppliedRowsTable(sqlite: Database): void {
  sqlite.run(
    'CREATE TABLE IF NOT EXISTS applied_rows (seq INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL)',
  );
}

export const kill9ActorName = 'kill9-counter';

export function kill9Actor(lingerMs: number): LogActor<Kill9Kinds, 'counter.add'> {
  return {
    name: kill9ActorName,
    consumes: ['counter.add'],
    apply(tx, entry) {
      tx.insert(appliedRows).values({ n: entry.data.n }).run();
      // Holding the transaction open widens the window in which the kill hits mid-commit.
      if (lingerMs > 0) Bun.sleepSync(lingerMs);
    },
  };
}
