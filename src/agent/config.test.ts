import { describe, expect, test } from 'bun:test';
import { BerthError } from '../core/errors.ts';
import { configFromEnv, parseConfigText, resolveConfig } from './config.ts';

describe('agent configuration', () => {
  // Proves defaults fill every field the operator leaves out.
  test('defaults', () => {
    const c = resolveConfig({ nodeName: 'n1' });
    expect(c.apiPort).toBe(4646);
    expect(c.peerPort).toBe(4650);
    expect(c.nodeTtlMs).toBe(3_000);
    expect(c.heartbeatIntervalMs).toBe(500);
    expect(c.votersTarget).toBe(3);
    expect(c.logLevel).toBe('warn');
  });

  // Proves the precedence: file < environment < flags.
  test('later sources win', () => {
    const file = parseConfigText('nodeName: a\napiPort: 1000\npeerPort: 2000\n', 'berth.yml');
    const env = configFromEnv({ BERTH_API_PORT: '3000', BERTH_NODE_NAME: 'b' });
    const c = resolveConfig(file, env, { nodeName: 'c' });
    expect(c).toMatchObject({ nodeName: 'c', apiPort: 3000, peerPort: 2000 });
  });

  // Proves the ACME directory switch: production by default, staging or a URL by file or
  // environment, and garbage refused.
  test('acme directory switch', () => {
    expect(resolveConfig({ nodeName: 'n' }).acme).toEqual({ directory: 'production' });
    const env = configFromEnv({
      BERTH_ACME_DIRECTORY: 'staging',
      BERTH_ACME_EMAIL: 'ops@example.com',
    });
    expect(resolveConfig({ nodeName: 'n' }, env).acme).toEqual({
      directory: 'staging',
      email: 'ops@example.com',
    });
    const file = parseConfigText(
      'acme:\n  directory: https://127.0.0.1:14000/dir\n  caFile: /tmp/ca.pem\n',
      'b.yml',
    );
    expect(resolveConfig({ nodeName: 'n' }, file).acme.directory).toBe(
      'https://127.0.0.1:14000/dir',
    );
    for (const acme of [
      { directory: 'prod' },
      { directory: 'ftp://x/dir' },
      { email: 'not-an-email' },
      { extra: 1 },
    ]) {
      expect(() => resolveConfig({ nodeName: 'n', acme })).toThrow(BerthError);
    }
  });

  // Proves garbage is refused with the stable code and every bad field named.
  test('garbage is refused with bad_config', () => {
    const bad = [
      () => resolveConfig({ nodeName: 'n', apiPort: 'eighty' }),
      () => resolveConfig({ nodeName: 'n', unknownKey: 1 }),
      () => resolveConfig({ nodeName: 'bad name!' }),
      () => resolveConfig({ nodeName: 'n', heartbeatIntervalMs: 2000, nodeTtlMs: 3000 }),
      () => resolveConfig({ nodeName: 'n', votersTarget: 4 }),
      () => parseConfigText('- a\n- b\n', 'x.yml'),
      () => parseConfigText('a: [unclosed', 'x.yml'),
    ];
    for (const run of bad) {
      let error: unknown;
      try {
        run();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BerthError);
      expect((error as BerthError).code).toBe('bad_config');
    }
  });

  // Proves the error names the field so the operator knows what to fix.
  test('errors name the field', () => {
    expect(() => resolveConfig({ nodeName: 'n', nodeTtlMs: 10 })).toThrow(/nodeTtlMs/);
  });
});
