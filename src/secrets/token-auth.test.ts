import { describe, expect, test } from 'bun:test';
import { findRejectedEntry } from '../state/queries.ts';
import { openTestState } from '../state/testing.ts';
import { authenticateToken } from './token-auth.ts';
import { generateToken, hashToken } from './tokens.ts';

describe('authenticateToken', () => {
  test('a created token authenticates until it expires or is revoked', () => {
    // Proves the lookup by hash, expiry at expiresAtMs, revocation, and one code for unknown or malformed tokens.
    const state = openTestState();
    const token = generateToken();
    const other = generateToken();
    state.submit('token_created', {
      id: 't1',
      name: 'ci',
      role: 'deploy',
      hash: hashToken(token),
      expiresAtMs: 100,
      atMs: 1,
    });
    state.submit('token_created', {
      id: 't2',
      name: 'ops',
      role: 'admin',
      hash: hashToken(other),
      atMs: 1,
    });
    expect(authenticateToken(state.db, token, 99)).toMatchObject({
      ok: true,
      token: { id: 't1', role: 'deploy' },
    });
    expect(authenticateToken(state.db, token, 100)).toEqual({ ok: false, code: 'token_expired' });
    expect(authenticateToken(state.db, generateToken(), 1)).toEqual({
      ok: false,
      code: 'token_invalid',
    });
    expect(authenticateToken(state.db, 'not a token', 1)).toEqual({
      ok: false,
      code: 'token_invalid',
    });
    const revoke = state.submit('token_revoked', { id: 't2', atMs: 5 });
    expect(authenticateToken(state.db, other, 6)).toEqual({ ok: false, code: 'token_revoked' });
    expect(findRejectedEntry(state.db, revoke.index)).toBeUndefined();
    const again = state.submit('token_revoked', { id: 't2', atMs: 7 });
    expect(findRejectedEntry(state.db, again.index)).toMatchObject({
      code: 'token_revoked',
      type: 'token_revoked',
    });
  });
});
