import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from './db.ts';
import { openStateDatabase, stateMigrationsFolder } from './state-db.ts';

const tempDirs: string[] = [];
function tempPath(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-db-'));
  tempDirs.push(dir);
  return join(dir, name);
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function pragma(sqlite: import('bun:sqlite').Database, name: string): unknown {
  return Object.values(sqlite.query(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];
}

describe('openDatabase', () => {
  test('a file database gets WAL, FULL sync by default, busy timeout and foreign keys', () => {
    // Proves the durability pragmas are really set on a file database, with FULL as default.
    const { sqlite } = openDatabase(tempPath('a.db'), { migrationsFolder: stateMigrationsFolder });
    expect(pragma(sqlite, 'journal_mode')).toBe('wal');
    expect(pragma(sqlite, 'synchronous')).toBe(2);
    expect(pragma(sqlite, 'busy_timeout')).toBeGreaterThan(0);
    expect(pragma(sqlite, 'foreign_keys')).toBe(1);
    sqlite.close();
  });

  test('NORMAL is applied when asked for', () => {
    // Proves the synchronous option reaches SQLite (1 = NORMAL).
    const { sqlite } = openStateDatabase(tempPath('b.db'), { synchronous: 'NORMAL' });
    expect(pragma(sqlite, 'synchronous')).toBe(1);
    sqlite.close();
  });

  test('migrations create the state tables once and reopening keeps the data', () => {
    // Proves migrations run at open and are not re-applied (or destructive) on reopen.
    const path = tempPath('c.db');
    const first = openStateDatabase(path, { synchronous: 'FULL' });
    first.sqlite.run("INSERT INTO actor_cursors (actor, applied_index) VALUES ('state', 7)");
    first.sqlite.close();
    const second = openStateDatabase(path, { synchronous: 'FULL' });
    const row = second.sqlite.query('SELECT applied_index FROM actor_cursors').get();
    expect(row).toEqual({ applied_index: 7 });
    const tables = second.sqlite
      .query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(tables).toEqual(
      expect.arrayContaining(['actor_cursors', 'local_log', 'local_log_meta']),
    );
    second.sqlite.close();
  });

  test('a missing migrations folder fails the open', () => {
    // Proves start-up fails loudly instead of running on an unmigrated database.
    expect(() =>
      openDatabase(':memory:', { migrationsFolder: tempPath('no-such-folder') }),
    ).toThrow();
  });

  test('schema checks reject a negative cursor', () => {
    // Proves the CHECK constraints generated from the drizzle schema are live.
    const { sqlite } = openStateDatabase(':memory:', { synchronous: 'NORMAL' });
    expect(() =>
      sqlite.run("INSERT INTO actor_cursors (actor, applied_index) VALUES ('x', -1)"),
    ).toThrow(/CHECK constraint failed/);
    sqlite.close();
  });
});
