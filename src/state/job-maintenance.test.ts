import { describe, expect, test } from 'bun:test';
import { defaultMaintenanceMessage, stateCommands } from '../../actors/state/commands.ts';
import { limits } from '../core/limits.ts';
import { getJob, listRejectedEntries } from './queries.ts';
import { jobRegistered, openTestState } from './testing.ts';

describe('job_maintenance', () => {
  test('enabling stores the message, disabling clears it, and both bump the modify index', () => {
    // Proves on → message stored, off → null, and the job's other fields stay as they were.
    const state = openTestState();
    state.submit('job_registered', jobRegistered('web'));
    expect(getJob(state.db, 'web')?.maintenanceMessage).toBeNull();
    const on = state.submit('job_maintenance', {
      id: 'web',
      enabled: true,
      message: 'Back at 3pm',
      atMs: 5_000,
    });
    expect(getJob(state.db, 'web')).toMatchObject({
      maintenanceMessage: 'Back at 3pm',
      modifyIndex: on.index,
      version: 1,
      status: 'running',
    });
    const off = state.submit('job_maintenance', { id: 'web', enabled: false, atMs: 6_000 });
    expect(getJob(state.db, 'web')).toMatchObject({
      maintenanceMessage: null,
      modifyIndex: off.index,
    });
    expect(listRejectedEntries(state.db)).toEqual([]);
  });

  test('enabling without a message stores the default; a message sent with off is ignored', () => {
    // Proves the default message and that "off" always clears, whatever else it carries.
    const state = openTestState();
    state.submit('job_registered', jobRegistered('web'));
    state.submit('job_maintenance', { id: 'web', enabled: true, atMs: 5_000 });
    expect(getJob(state.db, 'web')?.maintenanceMessage).toBe(defaultMaintenanceMessage);
    state.submit('job_maintenance', { id: 'web', enabled: false, message: 'x', atMs: 5_001 });
    expect(getJob(state.db, 'web')?.maintenanceMessage).toBeNull();
  });

  test('maintenance survives a new version of the job', () => {
    // Proves a redeploy during maintenance does not silently reopen the job's routes.
    const state = openTestState();
    state.submit('job_registered', jobRegistered('web'));
    state.submit('job_maintenance', { id: 'web', enabled: true, message: 'm', atMs: 5_000 });
    state.submit('job_registered', jobRegistered('web', { spec: { image: 'nginx:2' } }));
    expect(getJob(state.db, 'web')).toMatchObject({ version: 2, maintenanceMessage: 'm' });
  });

  test('an unknown job is a rejected no-op', () => {
    // Proves job_unknown is recorded and no job row appears.
    const state = openTestState();
    const entry = state.submit('job_maintenance', { id: 'ghost', enabled: true, atMs: 5_000 });
    expect(getJob(state.db, 'ghost')).toBeUndefined();
    expect(listRejectedEntries(state.db)).toMatchObject([
      { logIndex: entry.index, type: 'job_maintenance', code: 'job_unknown' },
    ]);
  });

  test('the schema bounds the message: empty and over-long are refused at append', () => {
    // Proves the append-time gate: a message of exactly the limit passes, one more char fails.
    const max = limits.stateMaintenanceMessageLengthMax;
    const base = { id: 'web', enabled: true, atMs: 1 };
    expect(stateCommands.parse('job_maintenance', { ...base, message: 'x'.repeat(max) }).ok).toBe(
      true,
    );
    expect(
      stateCommands.parse('job_maintenance', { ...base, message: 'x'.repeat(max + 1) }).ok,
    ).toBe(false);
    expect(stateCommands.parse('job_maintenance', { ...base, message: '' }).ok).toBe(false);
    expect(stateCommands.parse('job_maintenance', { id: 'web', atMs: 1 }).ok).toBe(false);
    const state = openTestState();
    state.submit('job_registered', jobRegistered('web'));
    const before = state.log.commitIndex();
    expect(() =>
      state.log.append('job_maintenance', { ...base, message: 'x'.repeat(max + 1) }),
    ).toThrow();
    expect(state.log.commitIndex()).toBe(before);
  });
});
