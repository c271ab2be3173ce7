import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../core/logger.ts';
import { getSealedSecret } from '../state/queries.ts';
import { createStateSnapshot } from '../state/snapshot.ts';
import { openTestState } from '../state/testing.ts';
import { activeKey, loadOrCreateKeyring } from './keyring.ts';
import { hashToken } from './tokens.ts';
import { openSecretText, sealSecret } from './vault.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function contains(haystack: Uint8Array | string, needle: string): boolean {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack) : Buffer.from(haystack);
  return bytes.includes(Buffer.from(needle, 'utf8'));
}

describe('secret plaintext stays out of the log, the database, snapshots and logs', () => {
  test('only ciphertext is stored, and the plaintext is recoverable with the keyring', () => {
    // Proves a secret's plaintext (and an API token) appears in none of: entry JSON, database and WAL bytes, snapshot, log lines.
    const dir = mkdtempSync(join(tmpdir(), 'berth-leak-'));
    dirs.push(dir);
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      sink: (line) => lines.push(line),
      nowMs: () => 0,
    });
    const state = openTestState({ path: join(dir, 'state.db'), logger });
    const ring = loadOrCreateKeyring(dir, 1);
    const plaintext = 'PLAINTEXT-MARKER-7f3a9c-do-not-leak';
    const token = 'berth_TOKEN-MARKER-0123456789abcdefghijklmnopqrstu';

    const sealed = sealSecret(activeKey(ring), 'DATABASE_URL', plaintext);
    const entry = state.submit('secret_set', { name: 'DATABASE_URL', ...sealed, atMs: 1 });
    state.submit('token_created', {
      id: 't1',
      name: 'ci',
      role: 'deploy',
      hash: hashToken(token),
      atMs: 2,
    });
    // A rejected entry makes the state machine log, so the captured sink is not empty.
    state.submit('secret_removed', { name: 'NOT_THERE', atMs: 3 });
    state.sqlite.run('PRAGMA wal_checkpoint(TRUNCATE)');

    const stored = getSealedSecret(state.db, 'DATABASE_URL')!;
    expect(openSecretText(ring, 'DATABASE_URL', stored)).toBe(plaintext);
    const entryJson = JSON.stringify([entry, state.log.read(1, 10)]);
    const dbBytes = readFileSync(join(dir, 'state.db'));
    const snapshot = createStateSnapshot(state.sqlite);
    expect(lines.length).toBeGreaterThan(0);
    // The search works: the ciphertext is where the plaintext is not.
    expect(contains(dbBytes, stored.ciphertext)).toBe(true);
    expect(contains(snapshot, stored.ciphertext)).toBe(true);
    for (const secret of [plaintext, token, Buffer.from(plaintext).toString('base64')]) {
      expect(contains(entryJson, secret)).toBe(false);
      expect(contains(dbBytes, secret)).toBe(false);
      expect(contains(snapshot, secret)).toBe(false);
      expect(contains(lines.join('\n'), secret)).toBe(false);
    }
    state.sqlite.close();
  });
});
