import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type CliHarness, startCliHarness } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
});

afterAll(async () => {
  await h.close();
});

describe('berth token', () => {
  test('create prints a working token once; ls never shows it; revoke disables it', async () => {
    // Proves the whole token lifecycle through the CLI, and that the token is usable.
    const created = await h.run(['token', 'create', '--name', 'ci', '--role', 'deploy', '--json']);
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout);
    expect(body).toMatchObject({ name: 'ci', role: 'deploy' });
    expect(typeof body.token).toBe('string');

    const used = await h.run(['job', 'ls'], { token: body.token });
    expect(used.code).toBe(0);

    const ls = await h.run(['token', 'ls']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`${body.id}\\s+ci\\s+deploy`));
    expect(ls.stdout).not.toContain(body.token);
    const lsJson = await h.run(['token', 'ls', '--json']);
    expect(lsJson.stdout).not.toContain(body.token);
    expect(JSON.parse(lsJson.stdout).some((t: { id: string }) => t.id === body.id)).toBe(true);

    const revoked = await h.run(['token', 'revoke', body.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`token ${body.id} revoked`);
    expect((await h.run(['job', 'ls'], { token: body.token })).code).toBe(4);
    const again = await h.run(['token', 'revoke', body.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('berth token ls');
  });

  test('create for people prints the token on its own line with a warning', async () => {
    // Proves the human output shows the plaintext exactly once and says it cannot be re-read.
    const r = await h.run(['token', 'create', '--name', 'ops', '--role', 'read-only']);
    expect(r.code).toBe(0);
    const token =
      r.stdout
        .split('\n')
        .find((l) => l.startsWith('  '))
        ?.trim() ?? '';
    expect(token.length).toBeGreaterThan(20);
    expect(r.stdout.split(token).length - 1).toBe(1);
    expect(r.stdout).toContain('shown only this once');
    expect((await h.run(['status'], { token })).code).toBe(0);
  });

  test('create checks --name and --role before calling the API', async () => {
    // Proves missing or invalid flags are usage errors (exit 2) and nothing is written.
    const before = h.service.events.commitIndex();
    expect((await h.run(['token', 'create', '--role', 'admin'])).code).toBe(2);
    expect((await h.run(['token', 'create', '--name', 'x'])).code).toBe(2);
    const bad = await h.run(['token', 'create', '--name', 'x', '--role', 'root']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('admin, deploy, read-only');
    expect(h.service.events.commitIndex()).toBe(before);
  });

  test('only admins manage tokens', async () => {
    // Proves deploy and read-only tokens get exit 4 for create, ls and revoke.
    for (const token of [h.tokens.deploy, h.tokens.read]) {
      expect(
        (await h.run(['token', 'create', '--name', 'x', '--role', 'admin'], { token })).code,
      ).toBe(4);
      expect((await h.run(['token', 'ls'], { token })).code).toBe(4);
      expect((await h.run(['token', 'revoke', 'abc'], { token })).code).toBe(4);
    }
  });
});
