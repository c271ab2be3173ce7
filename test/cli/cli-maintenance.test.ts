import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { defaultMaintenanceMessage } from '../../actors/state/commands.ts';
import { limits } from '../../src/core/limits.ts';
import { type CliHarness, registerJob, startCliHarness } from './harness.ts';

let h: CliHarness;

beforeAll(async () => {
  h = await startCliHarness();
  await registerJob(h, 'web', 'nginx:1.27');
});

afterAll(async () => {
  await h.close();
});

function maintenanceOf(name: string) {
  return h.service.getJob(name)?.maintenance;
}

describe('berth maintenance', () => {
  test('on with a message, on with the default, off; each is one committed entry', async () => {
    // Proves the verbs reach the API with a deploy token and the state follows them.
    const before = h.service.events.commitIndex();
    const on = await h.run(['maintenance', 'on', 'web', '--message', 'Back at 3pm'], {
      token: h.tokens.deploy,
    });
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/web is in maintenance: .*"Back at 3pm" \(log index \d+\)/);
    expect(maintenanceOf('web')).toEqual({ enabled: true, message: 'Back at 3pm' });
    const plain = await h.run(['maintenance', 'on', 'web']);
    expect(plain.code).toBe(0);
    expect(maintenanceOf('web')).toEqual({ enabled: true, message: defaultMaintenanceMessage });
    const off = await h.run(['maintenance', 'off', 'web'], { token: h.tokens.deploy });
    expect(off.code).toBe(0);
    expect(off.stdout).toContain('web is live again');
    expect(maintenanceOf('web')).toEqual({ enabled: false, message: null });
    expect(h.service.events.commitIndex()).toBe(before + 3);
  });

  test('--json prints the API answer', async () => {
    // Proves machine-readable output carries the index and the new state.
    const r = await h.run(['maintenance', 'on', 'web', '--message', 'soon', '--json']);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body).toMatchObject({ maintenance: { enabled: true, message: 'soon' } });
    expect(body.index).toBe(h.service.events.commitIndex());
    const off = JSON.parse((await h.run(['maintenance', 'off', 'web', '--json'])).stdout);
    expect(off.maintenance).toEqual({ enabled: false, message: null });
  });

  test('refusals: read-only token, unknown job, bad usage; nothing is written', async () => {
    // Proves each error exits non-zero with its reason and leaves the log unchanged.
    const before = h.service.events.commitIndex();
    const refused = await h.run(['maintenance', 'on', 'web'], { token: h.tokens.read });
    expect(refused.code).toBe(4);
    const ghost = await h.run(['maintenance', 'on', 'ghost']);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain('[job_not_found]');
    const missing = await h.run(['maintenance', 'off']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('berth maintenance off JOB');
    const tooLong = 'x'.repeat(limits.stateMaintenanceMessageLengthMax + 1);
    const long = await h.run(['maintenance', 'on', 'web', '--message', tooLong]);
    expect(long.code).not.toBe(0);
    expect(long.stderr).toContain('--message must be 1 to');
    const offWithMessage = await h.run(['maintenance', 'off', 'web', '--message', 'x']);
    expect(offWithMessage.code).not.toBe(0);
    expect(h.service.events.commitIndex()).toBe(before);
    expect(maintenanceOf('web')).toEqual({ enabled: false, message: null });
  });
});
