import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type CliHarness, startCliHarness } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
});

afterAll(async () => {
  await h.close();
});

describe('garbage in, meaningful exit codes out', () => {
  test('an unknown command exits 2 and suggests the closest one', async () => {
    // Proves a typo in a command word is a usage error with a "did you mean".
    const r = await h.run(['secert', 'ls']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean `berth secret ls`');
    expect(r.stdout).toBe('');
  });

  test('a group without a verb exits 2 and lists its verbs', async () => {
    // Proves `berth job` tells the user which subcommands exist.
    const r = await h.run(['job']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ls, status, stop, history');
  });

  test('an unknown flag exits 2 and suggests the closest flag', async () => {
    // Proves the strict parser refuses a misspelt flag instead of ignoring it.
    const r = await h.run(['job', 'ls', '--jsn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean --json?');
  });

  test('missing positional arguments exit 2 and name what is missing', async () => {
    // Proves every command checks its arguments before calling the API.
    for (const argv of [
      ['job', 'status'],
      ['job', 'stop'],
      ['job', 'history'],
      ['secret', 'get'],
      ['secret', 'rm'],
      ['secret', 'import'],
      ['token', 'revoke'],
      ['raft', 'transfer-leader'],
      ['node', 'remove'],
      ['node', 'drain'],
    ]) {
      const r = await h.run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toContain('missing');
    }
  });

  test('extra positional arguments exit 2', async () => {
    // Proves a stray word is not silently dropped.
    const r = await h.run(['status', 'now']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unexpected argument "now"');
  });

  test('no token exits 4 with what to do next', async () => {
    // Proves an unauthenticated call maps to the auth exit code and a recovery hint.
    const r = await h.run(['status'], { token: null });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('[unauthenticated]');
    expect(r.stderr).toContain('next: pass --token');
  });

  test('a revoked or made-up token exits 4', async () => {
    // Proves an unknown token is an auth failure, not a generic one.
    const r = await h.run(['job', 'ls'], { token: 'berth_not_a_real_token' });
    expect(r.code).toBe(4);
  });

  test('a read-only token that writes exits 4 and the log does not move', async () => {
    // Proves role checks surface as exit 4 and the refused write never reaches the log.
    const before = h.service.events.commitIndex();
    const r = await h.run(['secret', 'set', 'DB_URL', 'postgres://x'], { token: h.tokens.read });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('[forbidden]');
    expect(h.service.events.commitIndex()).toBe(before);
  });

  test('an unreachable address exits 3', async () => {
    // Proves a refused connection is reported as unreachable with the address to check.
    const r = await h.run(['status'], { address: 'http://127.0.0.1:1' });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot reach http://127.0.0.1:1');
    expect(r.stderr).toContain('next:');
  });

  test('no address anywhere exits 1 and says how to configure one', async () => {
    // Proves the CLI without a context points to `berth context use` instead of crashing.
    const r = await h.run(['status'], { address: null });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[no_context]');
    expect(r.stderr).toContain('berth context use');
  });

  test('with --json, errors are JSON on stderr', async () => {
    // Proves scripts can parse failures as well as results.
    const r = await h.run(['job', 'status', 'nope', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toEqual({
      error: { code: 'job_not_found', message: expect.any(String) },
    });
  });

  test('a saved context supplies the address and token', async () => {
    // Proves commands resolve the current context when no flags are given.
    const saved = await h.run(
      ['context', 'use', 'test', '--address', h.address, '--token', h.tokens.read],
      {
        address: null,
        token: null,
      },
    );
    expect(saved.code).toBe(0);
    const r = await h.run(['status', '--json'], { address: null, token: null });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).role).toBe('leader');
  });
});

describe('the real binary', () => {
  test('runs as a subprocess and returns the exit code of the failure', async () => {
    // Proves main.ts sets the process exit code (scripts see 4 for a missing token).
    const proc = Bun.spawn(['bun', 'src/cli/main.ts', 'status', '--address', h.address], {
      env: { ...process.env, BERTH_TOKEN: '' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    expect(await proc.exited).toBe(4);
    expect(await new Response(proc.stderr).text()).toContain('[unauthenticated]');
  });
});
