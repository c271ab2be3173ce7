import { describe, expect, test } from 'bun:test';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/logger.ts';
import { ensureAcceptQueueMigration } from './accept-queue-migration.ts';

describe('ensureAcceptQueueMigration', () => {
  test('turns the setting on when it is off, leaves it when on, and reports a missing one', () => {
    // Proves the three outcomes on a stand-in file (the real one is /proc/sys/...).
    const dir = mkdtempSync(join(tmpdir(), 'berth-migrate-'));
    const path = join(dir, 'tcp_migrate_req');
    writeFileSync(path, '0\n');
    expect(ensureAcceptQueueMigration(silentLogger, path)).toBe('enabled');
    expect(readFileSync(path, 'utf8')).toBe('1');
    expect(ensureAcceptQueueMigration(silentLogger, path)).toBe('already-on');
    expect(ensureAcceptQueueMigration(silentLogger, join(dir, 'absent'))).toBe('unavailable');
  });

  test('a setting it may not write is reported, not thrown', () => {
    // Proves an unprivileged agent starts anyway (the directory is read-only to it).
    if (process.getuid?.() === 0) {
      // root writes through file modes; a file that cannot be opened for writing stands in.
      expect(ensureAcceptQueueMigration(silentLogger, '/proc/self/status')).toBe('unavailable');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'berth-migrate-'));
    const path = join(dir, 'tcp_migrate_req');
    writeFileSync(path, '0');
    chmodSync(path, 0o444);
    expect(ensureAcceptQueueMigration(silentLogger, path)).toBe('unavailable');
  });
});
