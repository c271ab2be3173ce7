import { describe, expect, test } from 'bun:test';
import {
  constantTimeEqual,
  generateToken,
  generateTokenId,
  hashToken,
  isTokenShaped,
  verifyToken,
} from './tokens.ts';

describe('tokens', () => {
  test('a token is berth_ + 32 random bytes in base64url', () => {
    // Proves the format (prefix, 43 base64url chars = 32 bytes) and that two tokens differ.
    const token = generateToken();
    expect(token).toMatch(/^berth_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice('berth_'.length), 'base64url').length).toBe(32);
    expect(isTokenShaped(token)).toBe(true);
    expect(isTokenShaped(`${token}x`)).toBe(false);
    expect(generateToken()).not.toBe(token);
    expect(generateTokenId()).toMatch(/^tok_[0-9a-f]{16}$/);
  });

  test('the hash is SHA-256 hex and verifies only the right token', () => {
    // Proves hashToken against a known vector and verifyToken's accept/reject.
    expect(hashToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const token = generateToken();
    const hash = hashToken(token);
    expect(verifyToken(token, hash)).toBe(true);
    expect(verifyToken(generateToken(), hash)).toBe(false);
    expect(verifyToken(token, hash.toUpperCase())).toBe(false);
  });

  test('constant-time comparison is an equality test for any lengths', () => {
    // Proves constantTimeEqual gives equality semantics, including different lengths and empty strings.
    expect(constantTimeEqual('same', 'same')).toBe(true);
    expect(constantTimeEqual('same', 'sane')).toBe(false);
    expect(constantTimeEqual('short', 'much longer')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});
