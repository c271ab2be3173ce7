import { describe, expect, test } from 'bun:test';
import { BerthError } from '../core/errors.ts';
import { activeKey, createKeyring, rotateKeyring } from './keyring.ts';
import { openSecret, openSecretText, sealSecret } from './vault.ts';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof BerthError) return error.code;
    throw error;
  }
  throw new Error('expected a BerthError');
}

describe('vault', () => {
  test('seal then open returns the plaintext, with a fresh nonce each time', () => {
    // Proves the AES-256-GCM round trip for text and bytes, and nonce freshness.
    const ring = createKeyring(1);
    const a = sealSecret(activeKey(ring), 'DB_URL', 'postgres://u:p@db/app');
    const b = sealSecret(activeKey(ring), 'DB_URL', 'postgres://u:p@db/app');
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(Buffer.from(a.nonce, 'base64').length).toBe(12);
    expect(a.keyId).toBe(ring.activeKeyId);
    expect(openSecretText(ring, 'DB_URL', a)).toBe('postgres://u:p@db/app');
    const bytes = new Uint8Array([0, 1, 2, 255]);
    expect(openSecret(ring, 'BLOB', sealSecret(activeKey(ring), 'BLOB', bytes))).toEqual(bytes);
  });

  test('the name is authenticated: a ciphertext moved to another name does not open', () => {
    // Proves the secret name is additional authenticated data.
    const ring = createKeyring(1);
    const sealed = sealSecret(activeKey(ring), 'A', 'value');
    expect(codeOf(() => openSecret(ring, 'B', sealed))).toBe('secret_open_failed');
  });

  test('tampering, a wrong key and an unknown key id are refused', () => {
    // Proves integrity (one flipped bit), key separation, and secret_key_unknown.
    const ring = createKeyring(1);
    const sealed = sealSecret(activeKey(ring), 'A', 'value');
    const body = Buffer.from(sealed.ciphertext, 'base64');
    body[0]! ^= 1;
    expect(
      codeOf(() => openSecret(ring, 'A', { ...sealed, ciphertext: body.toString('base64') })),
    ).toBe('secret_open_failed');
    const other = createKeyring(1);
    expect(codeOf(() => openSecret(other, 'A', sealed))).toBe('secret_key_unknown');
    const sameId = { activeKeyId: sealed.keyId, keys: [{ ...other.keys[0]!, id: sealed.keyId }] };
    expect(codeOf(() => openSecret(sameId, 'A', sealed))).toBe('secret_open_failed');
    expect(codeOf(() => openSecret(ring, 'A', { ...sealed, nonce: 'AAAA' }))).toBe(
      'secret_open_failed',
    );
  });

  test('secrets sealed before a rotation still open after it', () => {
    // Proves keyId selects the right key from a rotated keyring.
    const ring = createKeyring(1);
    const old = sealSecret(activeKey(ring), 'A', 'old');
    const rotated = rotateKeyring(ring, 2);
    const fresh = sealSecret(activeKey(rotated), 'A', 'new');
    expect(fresh.keyId).not.toBe(old.keyId);
    expect(openSecretText(rotated, 'A', old)).toBe('old');
    expect(openSecretText(rotated, 'A', fresh)).toBe('new');
  });
});
