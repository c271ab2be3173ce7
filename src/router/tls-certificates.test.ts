import { describe, expect, test } from 'bun:test';
import { buildSniSet, sniCovers } from './tls-certificates.ts';
import { testCertificate } from './tls-testing.ts';

const a = await testCertificate(['a.test'], '0a');
const a2 = await testCertificate(['a.test'], '0b');
const b = await testCertificate(['b.test', 'www.b.test'], '0c');
const wild = await testCertificate(['*.w.test'], '0d');

describe('buildSniSet', () => {
  test('every host of every good certificate becomes one SNI entry, sorted by name', () => {
    // Proves a certificate with two names is served under both, in a stable order.
    const set = buildSniSet([b, a, wild]);
    expect(set.problems).toEqual([]);
    expect(set.entries.map((e) => e.serverName)).toEqual([
      '*.w.test',
      'a.test',
      'b.test',
      'www.b.test',
    ]);
    expect(set.entries.find((e) => e.serverName === 'www.b.test')?.cert).toBe(b.certPem);
  });

  test('a bad pair is left out and reported; the other certificates are still served', () => {
    // Proves one garbage PEM or mismatched key cannot take every other site down.
    const garbage = { hosts: ['g.test'], certPem: 'not a pem', keyPem: 'nope' };
    const mismatched = { hosts: ['m.test'], certPem: a.certPem, keyPem: b.keyPem };
    const set = buildSniSet([garbage, a, mismatched]);
    expect(set.entries.map((e) => e.serverName)).toEqual(['a.test']);
    expect(set.problems.map((p) => [p.code, p.hosts])).toEqual([
      ['bad_certificate', ['g.test']],
      ['bad_certificate', ['m.test']],
    ]);
  });

  test('a host its certificate does not cover is left out; names are compared in lower case', () => {
    // Proves a certificate for a.test is not served for other.test (nor a wildcard for a bare name).
    const set = buildSniSet([
      { ...a, hosts: ['A.TEST.', 'other.test'] },
      { ...wild, hosts: ['w.test', '*.w.test', 'x.w.test'] },
    ]);
    expect(set.entries.map((e) => e.serverName)).toEqual(['*.w.test', 'a.test', 'x.w.test']);
    expect(set.problems.map((p) => [p.code, p.hosts])).toEqual([
      ['host_not_covered', ['other.test']],
      ['host_not_covered', ['w.test']],
    ]);
  });

  test('a wildcard host needs the wildcard in the certificate, not one name below it', () => {
    // Proves *.b.test is refused for a certificate naming only www.b.test.
    const set = buildSniSet([{ ...b, hosts: ['*.b.test'] }]);
    expect(set.entries).toEqual([]);
    expect(set.problems[0]?.code).toBe('host_not_covered');
  });

  test('a host named twice keeps its first certificate; hosts past the limit are dropped', () => {
    // Proves the caller's order decides (custom before ACME) and the SNI list is bounded.
    const set = buildSniSet([a2, a, b], 2);
    expect(set.entries.map((e) => [e.serverName, e.cert === a2.certPem])).toEqual([
      ['a.test', true],
      ['b.test', false],
    ]);
    expect(set.problems.map((p) => p.code)).toEqual(['duplicate_host', 'hosts_dropped']);
  });

  test('the signature is the same for the same certificates in any order, and changes with one', () => {
    // Proves the unchanged-set check: order does not matter, a renewed certificate does.
    expect(buildSniSet([a, b]).signature).toBe(buildSniSet([b, a]).signature);
    expect(buildSniSet([a2, b]).signature).not.toBe(buildSniSet([a, b]).signature);
    expect(buildSniSet([]).signature).toBe('');
  });
});

test('sniCovers matches exact names and wildcards one label deep', () => {
  // Proves the coverage rule redirects rely on matches what TLS clients accept.
  const set = buildSniSet([a, wild]);
  expect(sniCovers(set, 'a.test')).toBe(true);
  expect(sniCovers(set, 'x.w.test')).toBe(true);
  expect(sniCovers(set, 'y.x.w.test')).toBe(false);
  expect(sniCovers(set, 'w.test')).toBe(false);
  expect(sniCovers(set, 'b.test')).toBe(false);
});
