import { afterEach, describe, expect, test } from 'bun:test';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import {
  activeKey,
  createKeyring,
  keyringFileName,
  loadOrCreateKeyring,
  readKeyring,
  rotateKeyring,
  writeKeyring,
} from './keyring.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-keyring-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof BerthError) return error.code;
    throw error;
  }
  throw new Error('expected a BerthError');
}

describe('keyring', () => {
  test('created once with mode 0600 and read back identically', () => {
    // Proves first use creates keyring.json (0600, 32-byte key) and later loads return the same keys.
    const dir = tempDir();
    const ring = loadOrCreateKeyring(dir, 1_000);
    expect(statSync(join(dir, keyringFileName)).mode & 0o777).toBe(0o600);
    expect(activeKey(ring).key.length).toBe(32);
    expect(loadOrCreateKeyring(dir, 2_000)).toEqual(ring);
  });

  test('rotation adds an active key and keeps the old ones, up to the limit', () => {
    // Proves rotate keeps old keys for opening, switches the active id, and refuses past keyringKeysMax.
    let ring = createKeyring(1);
    const first = ring.activeKeyId;
    ring = rotateKeyring(ring, 2);
    expect(ring.activeKeyId).not.toBe(first);
    expect(ring.keys.map((k) => k.id)).toContain(first);
    while (ring.keys.length < limits.keyringKeysMax) ring = rotateKeyring(ring, 3);
    expect(codeOf(() => rotateKeyring(ring, 4))).toBe('keyring_full');
  });

  test('a keyring readable by others or malformed is refused', () => {
    // Proves keyring_insecure for mode 0644 and keyring_invalid for bad JSON or a short key.
    const dir = tempDir();
    const path = join(dir, keyringFileName);
    writeKeyring(path, createKeyring(1));
    chmodSync(path, 0o644);
    expect(codeOf(() => readKeyring(path))).toBe('keyring_insecure');
    writeFileSync(path, '{not json', { mode: 0o600 });
    chmodSync(path, 0o600);
    expect(codeOf(() => readKeyring(path))).toBe('keyring_invalid');
    const short = {
      version: 1,
      activeKeyId: 'k',
      keys: [{ id: 'k', key: 'AAAA', createdAtMs: 1 }],
    };
    writeFileSync(path, JSON.stringify(short));
    expect(codeOf(() => readKeyring(path))).toBe('keyring_invalid');
  });
});
