import { describe, expect, test } from 'bun:test';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { z } from 'zod';
import { AssertionError } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import type { CommittedLog, LogEntry } from '../log/committed-log.ts';
import { LocalLog } from '../log/local-log.ts';
import { openStateDatabase } from '../storage/state-db.ts';
import { type LogActor, LogConsumer, type LogConsumerOptions } from './log-consumer.ts';
import { type DefinitionsOf, defineMessageKinds, local, replicated } from './message-kinds.ts';

const kinds = defineMessageKinds({
  'counter.add': replicated(1, z.object({ n: z.number().int() })),
  'other.note': replicated(2, z.object({ note: z.string() })),
  tick: local(),
});
type Kinds = DefinitionsOf<typeof kinds>;

/** The test actor's own state table, written by apply in the cursor's transaction. */
const appliedRows = sqliteTable('applied_rows', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  logIndex: integer('log_index').notNull(),
  n: integer('n').notNull(),
  actor: text('actor').notNull(),
});

function setup(options: { failOn?: (n: number) => boolean } = {}) {
  const opened = openStateDatabase(':memory:', { synchronous: 'FULL' });
  opened.sqlite.run(
    'CREATE TABLE applied_rows (seq INTEGER PRIMARY KEY AUTOINCREMENT, log_index INTEGER NOT NULL, n INTEGER NOT NULL, actor TEXT NOT NULL)',
  );
  const log = new LocalLog(opened, kinds);
  const actor: LogActor<Kinds, 'counter.add'> = {
    name: 'counter',
    consumes: ['counter.add'],
    apply(tx, entry) {
      tx.insert(appliedRows)
        .values({ logIndex: entry.index, n: entry.data.n, actor: 'counter' })
        .run();
      if (options.failOn?.(entry.data.n)) throw new Error(`apply failed on ${entry.data.n}`);
    },
  };
  const consumer = (over: Partial<LogConsumerOptions<Kinds, 'counter.add'>> = {}) =>
    new LogConsumer<Kinds, 'counter.add'>({ db: opened.db, log, kinds, actor, ...over });
  const rows = () =>
    opened.sqlite.query('SELECT log_index AS i, n FROM applied_rows ORDER BY seq').all() as {
      i: number;
      n: number;
    }[];
  return { ...opened, log, actor, consumer, rows };
}

/** A CommittedLog over a fixed list, for shapes the local log cannot produce. */
function fixedLog(entries: LogEntry[], firstIndex = 1): CommittedLog {
  return {
    commitIndex: () => entries.at(-1)?.index ?? firstIndex - 1,
    firstIndex: () => firstIndex,
    read: (from, max) => entries.filter((e) => e.index >= from && e.index < from + max),
    onCommit: () => () => {},
  };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('LogConsumer', () => {
  test('applies consumed entries in order and moves past the others', () => {
    // Proves in-order delivery, that only consumed types reach apply, and the final cursor.
    const { log, consumer, rows } = setup();
    log.append('counter.add', { n: 10 });
    log.append('other.note', { note: 'skip me' });
    log.append('counter.add', { n: 20 });
    log.append('other.note', { note: 'trailing' });
    const c = consumer();
    expect(c.drain()).toEqual({ status: 'caught_up', cursor: 4, applied: 2 });
    expect(rows()).toEqual([
      { i: 1, n: 10 },
      { i: 3, n: 20 },
    ]);
    expect(c.cursor()).toBe(4);
    expect(c.drain()).toEqual({ status: 'caught_up', cursor: 4, applied: 0 });
  });

  test('batches are bounded and a drain reports when more is left', () => {
    // Proves batchMax x batchesMax bounds one drain and the next drain resumes exactly.
    const { log, consumer, rows } = setup();
    for (let n = 1; n <= 7; n++) log.append('counter.add', { n });
    const c = consumer({ batchMax: 2, batchesPerWakeMax: 2 });
    expect(c.drain()).toEqual({ status: 'more', cursor: 4, applied: 4 });
    expect(c.drain(1)).toEqual({ status: 'more', cursor: 6, applied: 2 });
    expect(c.drain()).toEqual({ status: 'caught_up', cursor: 7, applied: 1 });
    expect(rows().map((r) => r.n)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  test('a throwing apply rolls back both its state and the cursor', () => {
    // Proves cursor atomicity: the failed entry leaves no row and the cursor before it.
    let failing = true;
    const { log, consumer, rows } = setup({ failOn: (n) => failing && n === 3 });
    for (let n = 1; n <= 4; n++) log.append('counter.add', { n });
    const c = consumer();
    expect(() => c.drain()).toThrow('apply failed on 3');
    expect(c.cursor()).toBe(2);
    expect(rows().map((r) => r.n)).toEqual([1, 2]);
    failing = false;
    expect(consumer().drain()).toEqual({ status: 'caught_up', cursor: 4, applied: 2 });
    expect(rows().map((r) => r.n)).toEqual([1, 2, 3, 4]);
  });

  test('a compacted log start is a snapshot_needed error', () => {
    // Proves a consumer behind the log's first index gets a typed error, applying nothing.
    const { log, consumer, rows } = setup();
    for (let n = 1; n <= 5; n++) log.append('counter.add', { n });
    log.compact(2);
    const error = caught(() => consumer().drain());
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe('snapshot_needed');
    expect((error as BerthError).details).toEqual({ actor: 'counter', cursor: 0, firstIndex: 3 });
    expect(rows()).toEqual([]);
  });

  test('a consumer ahead of the compaction point keeps going', () => {
    // Proves compaction below the cursor does not disturb a consumer.
    const { log, consumer, rows } = setup();
    for (let n = 1; n <= 3; n++) log.append('counter.add', { n });
    consumer().drain();
    log.compact(3);
    log.append('counter.add', { n: 4 });
    expect(consumer().drain()).toEqual({ status: 'caught_up', cursor: 4, applied: 1 });
    expect(rows().map((r) => r.n)).toEqual([1, 2, 3, 4]);
  });

  test('a gap in the log is an assertion', () => {
    // Proves a missing index is caught rather than silently skipped.
    const { db, actor } = setup();
    const add = (index: number): LogEntry => ({
      index,
      term: 1,
      type: 'counter.add',
      data: { n: index },
    });
    const log = fixedLog([add(1), add(2), add(4)]);
    const c = new LogConsumer<Kinds, 'counter.add'>({ db, log, kinds, actor });
    expect(() => c.drain()).toThrow(AssertionError);
    expect(c.cursor()).toBe(2);
  });

  test('a local type coming out of the log is an assertion', () => {
    // Proves the consumer side of the local-type rule, whatever log implementation is used.
    const { db, actor } = setup();
    const log = fixedLog([{ index: 1, term: 1, type: 'tick', data: {} }]);
    const c = new LogConsumer<Kinds, 'counter.add'>({ db, log, kinds, actor });
    expect(() => c.drain()).toThrow(AssertionError);
    expect(c.cursor()).toBe(0);
  });

  test('an invalid consumed entry stops the consumer with log_entry_invalid', () => {
    // Proves a committed entry failing its schema is never skipped.
    const { db, actor } = setup();
    const log = fixedLog([{ index: 1, term: 1, type: 'counter.add', data: { n: 'x' } }]);
    const c = new LogConsumer<Kinds, 'counter.add'>({ db, log, kinds, actor });
    expect((caught(() => c.drain()) as BerthError).code).toBe('log_entry_invalid');
    expect(c.cursor()).toBe(0);
  });

  test('an unregistered type is moved past', () => {
    // Proves a newer version's entry type does not stop an older consumer.
    const { db, actor, rows } = setup();
    const log = fixedLog([
      { index: 1, term: 1, type: 'future.thing', data: {} },
      { index: 2, term: 1, type: 'counter.add', data: { n: 5 } },
    ]);
    const c = new LogConsumer<Kinds, 'counter.add'>({ db, log, kinds, actor });
    expect(c.drain()).toEqual({ status: 'caught_up', cursor: 2, applied: 1 });
    expect(rows()).toEqual([{ i: 2, n: 5 }]);
  });

  test('a cursor moved under a running drain fails instead of double-applying', () => {
    // Proves the compare-and-set on the cursor: another writer of the same cursor is caught.
    const { sqlite, db, actor, rows } = setup();
    const inner = fixedLog(
      [1, 2].map((n) => ({ index: n, term: 1, type: 'counter.add', data: { n } })),
    );
    const log: CommittedLog = {
      ...inner,
      read(from, max) {
        // Another consumer of the same actor applies entry 1 between our cursor read and apply.
        sqlite.run("INSERT INTO actor_cursors (actor, applied_index) VALUES ('counter', 1)");
        return inner.read(from, max);
      },
    };
    const c = new LogConsumer<Kinds, 'counter.add'>({ db, log, kinds, actor });
    expect(() => c.drain()).toThrow(AssertionError);
    expect(rows()).toEqual([]);
  });

  test('consuming a local or unknown type is refused at construction', () => {
    // Proves wiring mistakes surface when the consumer is built.
    const { db, log } = setup();
    const bad = (consumes: string[]) => () =>
      new LogConsumer({
        db,
        log,
        kinds,
        actor: { name: 'bad', consumes: consumes as 'counter.add'[], apply() {} },
      });
    expect(bad(['tick'])).toThrow(AssertionError);
    expect(bad(['nope'])).toThrow(BerthError);
  });

  test('a started consumer wakes on commit and stops when told', () => {
    // Proves start() subscribes to onCommit, drains on wake, and stop() unsubscribes.
    const { log, consumer, rows } = setup();
    const queue: (() => void)[] = [];
    const runQueued = () => {
      for (let i = 0; i < 100 && queue.length > 0; i++) queue.shift()!();
    };
    const c = consumer({ schedule: (fn) => queue.push(fn), batchMax: 1, batchesPerWakeMax: 1 });
    log.append('counter.add', { n: 1 });
    c.start();
    expect(c.status).toBe('running');
    runQueued();
    expect(rows().map((r) => r.n)).toEqual([1]);
    log.append('counter.add', { n: 2 });
    log.append('counter.add', { n: 3 });
    expect(queue.length).toBe(1); // two commits, one pending wake
    runQueued(); // a one-entry budget reschedules itself until caught up
    expect(rows().map((r) => r.n)).toEqual([1, 2, 3]);
    c.stop();
    log.append('counter.add', { n: 4 });
    runQueued();
    expect(c.status).toBe('stopped');
    expect(rows().map((r) => r.n)).toEqual([1, 2, 3]);
  });

  test('a started consumer that fails reports it and stops', () => {
    // Proves a failure in a wake goes to onFailure and the consumer becomes failed.
    const { log, consumer } = setup({ failOn: (n) => n === 2 });
    const queue: (() => void)[] = [];
    const failures: unknown[] = [];
    const c = consumer({ schedule: (fn) => queue.push(fn), onFailure: (e) => failures.push(e) });
    c.start();
    log.append('counter.add', { n: 1 });
    log.append('counter.add', { n: 2 });
    for (let i = 0; i < 10 && queue.length > 0; i++) queue.shift()!();
    expect(c.status).toBe('failed');
    expect(failures).toHaveLength(1);
    expect(c.cursor()).toBe(1);
    log.append('counter.add', { n: 3 });
    expect(queue).toHaveLength(0);
  });
});
