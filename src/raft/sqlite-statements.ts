/**
 * The SQL the Raft storage runs, prepared once per connection with drizzle placeholders,
 * so the hot path (append, hard state) only binds values.
 */
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { raftConfState, raftEntries, raftHardState, raftLogStart, raftSnapshot } from './schema.ts';

/** The statements on the hot path, prepared once per connection. */
export function prepareStatements(db: BunSQLiteDatabase) {
  const p = (name: string) => sql.placeholder(name);
  return {
    insertEntry: db
      .insert(raftEntries)
      .values({
        index: p('index'),
        term: p('term'),
        kind: p('kind'),
        data: p('data'),
        checksum: p('checksum'),
      })
      .prepare(),
    deleteFrom: db
      .delete(raftEntries)
      .where(gte(raftEntries.index, p('index')))
      .prepare(),
    deleteUpTo: db
      .delete(raftEntries)
      .where(lt(raftEntries.index, sql`${p('index')} + 1`))
      .prepare(),
    deleteAll: db.delete(raftEntries).prepare(),
    entryAt: db
      .select()
      .from(raftEntries)
      .where(eq(raftEntries.index, p('index')))
      .prepare(),
    entriesIn: db
      .select()
      .from(raftEntries)
      .where(and(gte(raftEntries.index, p('lo')), lt(raftEntries.index, p('hi'))))
      .orderBy(asc(raftEntries.index))
      .prepare(),
    upsertHardState: db
      .insert(raftHardState)
      .values({ id: p('id'), term: p('term'), vote: p('vote'), commit: p('commit') })
      .onConflictDoUpdate({
        target: raftHardState.id,
        set: {
          term: sql`excluded.term`,
          vote: sql`excluded.vote`,
          commit: sql`excluded.${sql.identifier('commit')}`,
        },
      })
      .prepare(),
    upsertConf: db
      .insert(raftConfState)
      .values({ id: p('id'), conf: p('conf') })
      .onConflictDoUpdate({ target: raftConfState.id, set: { conf: sql`excluded.conf` } })
      .prepare(),
    upsertSnapshot: db
      .insert(raftSnapshot)
      .values({
        id: p('id'),
        index: p('index'),
        term: p('term'),
        conf: p('conf'),
        data: p('data'),
        checksum: p('checksum'),
      })
      .onConflictDoUpdate({
        target: raftSnapshot.id,
        set: {
          index: sql`excluded.${sql.identifier('index')}`,
          term: sql`excluded.term`,
          conf: sql`excluded.conf`,
          data: sql`excluded.data`,
          checksum: sql`excluded.checksum`,
        },
      })
      .prepare(),
    upsertLogStart: db
      .insert(raftLogStart)
      .values({ id: p('id'), index: p('index'), term: p('term') })
      .onConflictDoUpdate({
        target: raftLogStart.id,
        set: { index: sql`excluded.${sql.identifier('index')}`, term: sql`excluded.term` },
      })
      .prepare(),
  };
}

export type RaftStatements = ReturnType<typeof prepareStatements>;
