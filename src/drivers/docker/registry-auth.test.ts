import { expect, test } from 'bun:test';
import { registryAuthHeader, splitImageReference } from './registry-auth.ts';

test('X-Registry-Auth is base64url JSON of the credentials', () => {
  // Proves the header Docker expects for a private pull (no registry is reachable in CI,
  // so the pull itself is untested; this checks what would be sent).
  const header = registryAuthHeader({
    username: 'deploy',
    password: 'p?ss>word~',
    serverAddress: 'registry.example.com',
  });
  expect(header).not.toMatch(/[+/=]/);
  expect(JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))).toEqual({
    username: 'deploy',
    password: 'p?ss>word~',
    serveraddress: 'registry.example.com',
  });
});

test('image references split into fromImage and tag', () => {
  // Proves registry ports are not mistaken for tags and digests are kept whole.
  expect(splitImageReference('nginx')).toEqual({ fromImage: 'nginx', tag: 'latest' });
  expect(splitImageReference('reg:5000/app:1.2')).toEqual({
    fromImage: 'reg:5000/app',
    tag: '1.2',
  });
  expect(splitImageReference('reg:5000/app')).toEqual({ fromImage: 'reg:5000/app', tag: 'latest' });
  expect(splitImageReference('app@sha256:abc')).toEqual({ fromImage: 'app', tag: 'sha256:abc' });
});
