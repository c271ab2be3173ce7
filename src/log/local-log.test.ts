import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AssertionError } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';
import { defineMessageKinds, local, replicated } from '../mailbox/message-kinds.ts';
import { openStateDatabase } from '../storage/state-db.ts';
import { LocalLog } from './local-log.ts';

const kinds = defineMessageKinds({
  'job.registered': replicated(1, z.object({ job: z.string().min(1), version: z.number().int() })),
  'node.down': replicated(2, z.object({ node: z.number().int().positive() })),
  'job.stamped': replicated(3, z.object({ at: z.date() })),
  'probe.result': local(),
});

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openLog() {
  const opened = openStateDatabase(':memory:', { synchronous: 'FULL' });
  return { ...opened, log: new LocalLog(opened, kinds) };
}

function rowCount(sqlite: import('bun:sqlite').Database): number {
  return (sqlite.query('SELECT count(*) AS n FROM local_log').get() as { n: number }).n;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('LocalLog', () => {
  test('appends commit at once with consecutive indexes and term 1', () => {
    // Proves append/read/commitIndex agree and entries come back in order, validated.
    const { log } = openLog();
    expect(log.commitIndex()).toBe(0);
    expect(log.firstIndex()).toBe(1);
    const a = log.append('job.registered', { job: 'web', version: 1 });
    const b = log.append('node.down', { node: 4 });
    expect([a.index, b.index, a.term]).toEqual([1, 2, 1]);
    expect(log.commitIndex()).toBe(2);
    expect(log.read(1, 10)).toEqual([
      { index: 1, term: 1, type: 'job.registered', data: { job: 'web', version: 1 } },
      { index: 2, term: 1, type: 'node.down', data: { node: 4 } },
    ]);
    expect(log.read(2, 1).map((e) => e.index)).toEqual([2]);
    expect(log.read(3, 5)).toEqual([]);
  });

  test('commit listeners hear each new commit index until unsubscribed', () => {
    // Proves onCommit notifies after the write and that unsubscribe stops it.
    const { log } = openLog();
    const heard: number[] = [];
    const off = log.onCommit((index) => heard.push(index));
    log.append('node.down', { node: 1 });
    log.append('node.down', { node: 2 });
    off();
    log.append('node.down', { node: 3 });
    expect(heard).toEqual([1, 2]);
  });

  test('a throwing listener does not make a committed append look failed', () => {
    // Proves listener bugs cannot cause a caller to re-append a committed entry.
    const { log } = openLog();
    log.onCommit(() => {
      throw new Error('listener bug');
    });
    expect(log.append('node.down', { node: 1 }).index).toBe(1);
  });

  test('bad data for a replicated type is refused with a clear error and nothing is written', () => {
    // Proves validation happens before the write and the error names type and field.
    const { sqlite, log } = openLog();
    const error = caught(() => log.append('job.registered', { job: '', version: 1.5 }));
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe('invalid_message');
    expect((error as BerthError).message).toMatch(/job\.registered[\s\S]*at job[\s\S]*at version/);
    expect(rowCount(sqlite)).toBe(0);
    expect(log.commitIndex()).toBe(0);
  });

  test('a payload that does not survive JSON is refused before writing', () => {
    // Proves the round-trip check: a Date passes the schema but would not read back.
    const { sqlite, log } = openLog();
    const error = caught(() => log.append('job.stamped', { at: new Date(0) }));
    expect((error as BerthError).code).toBe('invalid_message');
    expect(rowCount(sqlite)).toBe(0);
  });

  test('a local type never enters the log', () => {
    // Proves the assertion fires on append of a local type and nothing is written.
    const { sqlite, log } = openLog();
    expect(() => log.append('probe.result', { ok: true })).toThrow(AssertionError);
    expect(rowCount(sqlite)).toBe(0);
  });

  test('an unregistered type is refused with unknown_message_type', () => {
    // Proves typos in a type name are operating errors and nothing is written.
    const { sqlite, log } = openLog();
    expect((caught(() => log.append('job.registerd', {})) as BerthError).code).toBe(
      'unknown_message_type',
    );
    expect(rowCount(sqlite)).toBe(0);
  });

  test('entries read back from disk are re-validated', () => {
    // Proves a tampered payload, a reused tag and broken JSON are caught on read.
    const { sqlite, log } = openLog();
    log.append('job.registered', { job: 'web', version: 1 });
    log.append('node.down', { node: 2 });
    log.append('node.down', { node: 3 });
    sqlite.run(`UPDATE local_log SET data = '{"job":"web","version":"x"}' WHERE log_index = 1`);
    sqlite.run(`UPDATE local_log SET tag = 1 WHERE log_index = 2`);
    sqlite.run(`UPDATE local_log SET data = '{not json' WHERE log_index = 3`);
    for (const index of [1, 2, 3]) {
      const error = caught(() => log.read(index, 1));
      expect((error as BerthError).code).toBe('log_corrupt');
    }
  });

  test('compaction moves the first index and survives an empty table', () => {
    // Proves firstIndex/commitIndex stay right after compaction, even of every entry.
    const { log } = openLog();
    for (let node = 1; node <= 5; node++) log.append('node.down', { node });
    log.compact(3);
    expect(log.firstIndex()).toBe(4);
    expect(log.read(1, 10).map((e) => e.index)).toEqual([4, 5]);
    log.compact(5);
    expect(log.firstIndex()).toBe(6);
    expect(log.commitIndex()).toBe(5);
    expect(log.append('node.down', { node: 9 }).index).toBe(6);
    expect(() => log.compact(7)).toThrow(AssertionError);
  });

  test('appended entries persist across reopening the file', () => {
    // Proves the log is durable state, not a cache.
    const dir = mkdtempSync(join(tmpdir(), 'berth-local-log-'));
    tempDirs.push(dir);
    const path = join(dir, 'state.db');
    const first = openStateDatabase(path, { synchronous: 'FULL' });
    new LocalLog(first, kinds).append('node.down', { node: 7 });
    first.sqlite.close();
    const second = openStateDatabase(path, { synchronous: 'FULL' });
    const log = new LocalLog(second, kinds);
    expect(log.commitIndex()).toBe(1);
    expect(log.read(1, 1)[0]?.data).toEqual({ node: 7 });
    second.sqlite.close();
  });

  test('the local log refuses a database without FULL sync', () => {
    // Proves the source-of-truth log cannot be opened on a NORMAL-sync database by mistake.
    const opened = openStateDatabase(':memory:', { synchronous: 'NORMAL' });
    expect(() => new LocalLog(opened, kinds)).toThrow(AssertionError);
  });
});
