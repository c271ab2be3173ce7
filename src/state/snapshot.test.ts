import { afterEach, describe, expect, test } from 'bun:test';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stateCommands } from '../../actors/state/commands.ts';
import { BerthError } from '../core/errors.ts';
import { createPrng } from '../core/prng.ts';
import type { CommittedLog, LogEntry } from '../log/committed-log.ts';
import { LogConsumer } from '../mailbox/log-consumer.ts';
import {
  getStatePosition,
  listAllocations,
  listJobs,
  listNodes,
  listRejectedEntries,
  listSecrets,
  listTokens,
  stateDigest,
} from './queries.ts';
import { createStateSnapshot, inspectStateSnapshot, restoreStateSnapshot } from './snapshot.ts';
import { createStateMachine } from './state-machine.ts';
import { applyAll, generateCommands, openTestState, type TestState } from './testing.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-snap-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function queries(db: TestState['db']) {
  return {
    nodes: listNodes(db),
    jobs: listJobs(db),
    allocations: listAllocations(db),
    secrets: listSecrets(db),
    tokens: listTokens(db),
    rejected: listRejectedEntries(db),
  };
}

/** A committed log over entries after `firstIndex - 1`, as a Raft log after InstallSnapshot. */
function logFrom(entries: LogEntry[], firstIndex: number): CommittedLog {
  return {
    commitIndex: () => entries.at(-1)?.index ?? firstIndex - 1,
    firstIndex: () => firstIndex,
    read: (from, max) => entries.filter((e) => e.index >= from && e.index < from + max),
    onCommit: () => () => {},
  };
}

describe('state snapshots', () => {
  test('restore gives identical queries and position, and applying continues from index + 1', () => {
    // Proves snapshot/restore round-trips the state and cursor, and the restored node converges with the source.
    const dir = tempDir();
    const source = openTestState();
    const commands = generateCommands(createPrng(7), 200);
    applyAll(source, commands.slice(0, 150));
    const position = getStatePosition(source.db);
    expect(position.appliedIndex).toBe(150);
    const bytes = createStateSnapshot(source.sqlite);
    expect(inspectStateSnapshot(bytes)).toEqual(position);

    const target = join(dir, 'target.db');
    const restored = restoreStateSnapshot(target, bytes);
    expect(restored.position).toEqual(position);
    expect(queries(restored.opened.db)).toEqual(queries(source.db));
    expect(stateDigest(restored.opened.sqlite)).toBe(stateDigest(source.sqlite));

    // The source goes on; the restored node consumes the same entries from 151.
    applyAll(source, commands.slice(150));
    const tail = source.log.read(151, 256);
    const consumer = new LogConsumer({
      db: restored.opened.db,
      log: logFrom(tail, 151),
      kinds: stateCommands,
      actor: createStateMachine(),
    });
    expect(consumer.drain()).toMatchObject({ status: 'caught_up', cursor: 200, applied: 50 });
    expect(stateDigest(restored.opened.sqlite)).toBe(stateDigest(source.sqlite));
    restored.opened.sqlite.close();
    source.sqlite.close();
  });

  test('the snapshot drops node-local rows: the local log and other actors cursors', () => {
    // Proves only cluster state travels: local_log rows and foreign cursors are scrubbed.
    const source = openTestState();
    applyAll(source, generateCommands(createPrng(3), 20));
    source.sqlite.run("INSERT INTO actor_cursors (actor, applied_index) VALUES ('router', 5)");
    const copy = restoreStateSnapshot(join(tempDir(), 's.db'), createStateSnapshot(source.sqlite));
    const count = (sql: string) => Object.values(copy.opened.sqlite.query(sql).get() as object)[0];
    expect(count('SELECT COUNT(*) FROM local_log')).toBe(0);
    expect(count('SELECT COUNT(*) FROM actor_cursors')).toBe(1);
    expect(copy.position.appliedIndex).toBe(20);
    copy.opened.sqlite.close();
  });

  test('restore replaces a crashed database and discards its WAL', () => {
    // Proves WAL frames left by a crashed process neither survive nor bleed into the restored database.
    const dir = tempDir();
    const live = join(dir, 'live.db');
    const old = openTestState({ path: live });
    old.sqlite.run('PRAGMA wal_autocheckpoint = 0');
    old.sqlite.run('PRAGMA synchronous = NORMAL');
    applyAll(old, generateCommands(createPrng(11), 50));
    // Copying the files while the connection is open is what a crash leaves behind.
    const path = join(dir, 'crashed.db');
    copyFileSync(live, path);
    copyFileSync(`${live}-wal`, `${path}-wal`);
    expect(Bun.file(`${path}-wal`).size).toBeGreaterThan(0);
    old.sqlite.close();
    const fresh = openTestState();
    applyAll(fresh, generateCommands(createPrng(12), 10));
    const restored = restoreStateSnapshot(path, createStateSnapshot(fresh.sqlite));
    expect(stateDigest(restored.opened.sqlite)).toBe(stateDigest(fresh.sqlite));
    expect(restored.position.appliedIndex).toBe(10);
    expect(existsSync(`${path}.restore-tmp`)).toBe(false);
    restored.opened.sqlite.close();
    // Reopening after the restore still sees the snapshot, not the crashed database.
    const reopened = openTestState({ path });
    expect(stateDigest(reopened.sqlite)).toBe(stateDigest(fresh.sqlite));
    reopened.sqlite.close();
  });

  test('garbage bytes are refused with snapshot_invalid and leave the old database', () => {
    // Proves a bad snapshot is rejected before anything on disk changes.
    const path = join(tempDir(), 'node.db');
    writeFileSync(path, 'keep me');
    for (const bytes of [
      new Uint8Array([1, 2, 3]),
      new TextEncoder().encode('SQLite format 3\0garbage'),
    ]) {
      let error: unknown;
      try {
        restoreStateSnapshot(path, bytes);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BerthError);
      expect((error as BerthError).code).toBe('snapshot_invalid');
    }
    expect(Bun.file(path).size).toBe(7);
  });
});
