import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliHarness, startCliHarness } from './harness.ts';

let h: CliHarness;

/** Values that must never appear in the CLI's output (except `secret get`). */
const inlineValue = 'inline-s3cret-value';
const fileValue = 'file-s3cret-value\nsecond line\n';
const stdinValue = 'stdin-s3cret-value';

function expectNoValue(text: string, ...values: string[]): void {
  for (const v of values) expect(text).not.toContain(v.trim().split('\n')[0]!);
}

beforeAll(async () => {
  h = await startCliHarness();
});

afterAll(async () => {
  await h.close();
});

describe('berth secret set / get', () => {
  test('set with an inline value stores it and never prints it', async () => {
    // Proves the inline source works and the value stays out of stdout and stderr.
    const r = await h.run(['secret', 'set', 'INLINE', inlineValue], { token: h.tokens.deploy });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/secret INLINE set \(log index \d+\)/);
    expectNoValue(r.stdout + r.stderr, inlineValue);
    expect(h.service.readSecret('INLINE')).toBe(inlineValue);
  });

  test('set --from-file stores the file byte for byte', async () => {
    // Proves the file source keeps newlines exactly and is not echoed, even with --json.
    const path = join(h.configDir, 'value.txt');
    writeFileSync(path, fileValue);
    const r = await h.run(['secret', 'set', 'FROM_FILE', '--from-file', path, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'FROM_FILE', index: expect.any(Number) });
    expectNoValue(r.stdout + r.stderr, fileValue);
    expect(h.service.readSecret('FROM_FILE')).toBe(fileValue);
  });

  test('set NAME - reads standard input and drops one trailing newline', async () => {
    // Proves `echo value | berth secret set NAME -` stores the value without echo's newline.
    const r = await h.run(['secret', 'set', 'FROM_STDIN', '-'], { stdin: `${stdinValue}\n` });
    expect(r.code).toBe(0);
    expectNoValue(r.stdout + r.stderr, stdinValue);
    expect(h.service.readSecret('FROM_STDIN')).toBe(stdinValue);
  });

  test('set refuses a missing value, two sources, or an unreadable file', async () => {
    // Proves ambiguous or missing sources are usage errors and bad paths name the path.
    expect((await h.run(['secret', 'set', 'X'])).code).toBe(2);
    expect((await h.run(['secret', 'set'])).code).toBe(2);
    const both = await h.run(['secret', 'set', 'X', 'v', '--from-file', '/etc/hostname']);
    expect(both.code).toBe(2);
    const missing = await h.run(['secret', 'set', 'X', '--from-file', '/nonexistent/file']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('/nonexistent/file');
    expect(h.service.readSecret('X')).toBeNull();
  });

  test('set with an invalid name reports the API’s reason and exits 1', async () => {
    // Proves server-side validation errors come through with their code.
    const r = await h.run(['secret', 'set', '9bad name', 'v']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[invalid_body]');
  });

  test('get prints the value for an admin and refuses a deploy token', async () => {
    // Proves only admins read values back (exit 4 otherwise) and get prints the raw value.
    const r = await h.run(['secret', 'get', 'INLINE']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${inlineValue}\n`);
    const json = JSON.parse((await h.run(['secret', 'get', 'INLINE', '--json'])).stdout);
    expect(json).toEqual({ name: 'INLINE', value: inlineValue });
    const refused = await h.run(['secret', 'get', 'INLINE'], { token: h.tokens.deploy });
    expect(refused.code).toBe(4);
    expectNoValue(refused.stdout + refused.stderr, inlineValue);
    const unknown = await h.run(['secret', 'get', 'NOPE']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('berth secret ls');
  });
});

describe('berth secret ls / rm', () => {
  test('ls shows names and versions, never values', async () => {
    // Proves the listing (human and JSON) carries metadata only.
    await h.run(['secret', 'set', 'INLINE', `${inlineValue}-2`]);
    const r = await h.run(['secret', 'ls'], { token: h.tokens.read });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/INLINE\s+2\s+/);
    expect(r.stdout).toMatch(/FROM_FILE\s+1\s+/);
    const json = await h.run(['secret', 'ls', '--json']);
    const names = JSON.parse(json.stdout).map((s: { name: string }) => s.name);
    expect(names).toContain('FROM_STDIN');
    expectNoValue(r.stdout + json.stdout, inlineValue, fileValue, stdinValue);
  });

  test('rm deletes the secret; a second rm is not found', async () => {
    // Proves rm removes the secret and a missing one exits 1 with the code.
    const r = await h.run(['secret', 'rm', 'FROM_STDIN'], { token: h.tokens.deploy });
    expect(r.code).toBe(0);
    expect(h.service.readSecret('FROM_STDIN')).toBeNull();
    const again = await h.run(['secret', 'rm', 'FROM_STDIN']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('[secret_not_found]');
  });
});

describe('berth secret import', () => {
  test('sets every key of a .env file and prints only names and a count', async () => {
    // Proves import parses the file, sets each key, and never echoes a value.
    const path = join(h.configDir, 'app.env');
    writeFileSync(
      path,
      '# app\nDB_URL=postgres://u:imp0rt-pass@db/app\nexport API_KEY="imp0rt-key"\nEMPTY=\n',
    );
    const r = await h.run(['secret', 'import', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('set 3 secret(s)');
    expect(r.stdout).toContain('DB_URL, API_KEY, EMPTY');
    expectNoValue(r.stdout + r.stderr, 'imp0rt-pass', 'imp0rt-key');
    expect(h.service.readSecret('DB_URL')).toBe('postgres://u:imp0rt-pass@db/app');
    expect(h.service.readSecret('API_KEY')).toBe('imp0rt-key');
    const json = JSON.parse((await h.run(['secret', 'import', path, '--json'])).stdout);
    expect(json).toEqual({ file: path, count: 3, names: ['DB_URL', 'API_KEY', 'EMPTY'] });
  });

  test('a file with bad lines sets nothing and lists each bad line', async () => {
    // Proves parse errors are reported per line number, without values, before any write.
    const path = join(h.configDir, 'bad.env');
    writeFileSync(path, 'GOOD=b4d-file-value\nnot an assignment\n1BAD=x\nQ="unterminated\n');
    const before = h.service.events.commitIndex();
    const r = await h.run(['secret', 'import', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}:2: expected KEY=VALUE`);
    expect(r.stderr).toContain(`${path}:3: invalid key`);
    expect(r.stderr).toContain(`${path}:4: unterminated`);
    expect(r.stderr).toContain('nothing was set');
    expectNoValue(r.stdout + r.stderr, 'b4d-file-value');
    expect(h.service.events.commitIndex()).toBe(before);
  });

  test('a failure part-way says how many were set before it', async () => {
    // Proves a refused key stops the import with progress in the message (no silent skip).
    const path = join(h.configDir, 'partial.env');
    const long = `K${'x'.repeat(200)}`;
    writeFileSync(path, `FIRST=1\n${long}=2\nTHIRD=3\n`);
    const r = await h.run(['secret', 'import', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('set 1 of 3 secrets');
    expect(h.service.readSecret('FIRST')).toBe('1');
    expect(h.service.readSecret('THIRD')).toBeNull();
  });

  test('a read-only token cannot import (exit 4)', async () => {
    // Proves the auth exit code survives the import's progress wrapping.
    const path = join(h.configDir, 'ro.env');
    writeFileSync(path, 'RO=1\n');
    const r = await h.run(['secret', 'import', path], { token: h.tokens.read });
    expect(r.code).toBe(4);
  });
});
