/**
 * Self-signed server certificates for tests, made by the openssl command (Debian's
 * `openssl`, installed by .ci/run): node:crypto parses certificates but cannot make them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  certPem: string;
  keyPem: string;
}

/** A P-256 certificate for `hosts` (the first is the CN), valid for `days` (default 2). */
export function selfSignedCert(hosts: string[], days = 2): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cert-'));
  try {
    const san = hosts.map((h) => `DNS:${h}`).join(',');
    const run = Bun.spawnSync([
      'openssl',
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      String(days),
      '-subj',
      `/CN=${hosts[0]}`,
      '-addext',
      `subjectAltName=${san}`,
    ]);
    if (run.exitCode !== 0) throw new Error(`openssl failed: ${run.stderr.toString()}`);
    return {
      certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
