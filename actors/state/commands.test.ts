import { describe, expect, test } from 'bun:test';
import { BerthError } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import { openTestState, placement, planCommitted } from '../../src/state/testing.ts';
import { stateCommandDefinitions, stateCommands, stateCommandTypes } from './commands.ts';

function appendError(fn: () => unknown): BerthError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BerthError);
    return error as BerthError;
  }
  throw new Error('expected the append to be refused');
}

describe('state command registry', () => {
  test('every command is replicated, in the state tag range, on a distinct tag', () => {
    // Proves the append-only tag block 100–199 is respected and the registry maps each tag back.
    const tags = Object.values(stateCommandDefinitions).map((k) => k.tag);
    expect(new Set(tags).size).toBe(tags.length);
    for (const [type, kind] of Object.entries(stateCommandDefinitions)) {
      expect(kind.tag).toBeGreaterThanOrEqual(100);
      expect(kind.tag).toBeLessThan(200);
      expect(stateCommands.typeOfTag(kind.tag)).toBe(type);
    }
    expect(stateCommandTypes.length).toBe(24);
    // Tags are append-only: the newest command keeps the tag it was released with.
    expect(stateCommandDefinitions.job_maintenance.tag).toBe(117);
  });

  test('every command carries the leader-stamped atMs', () => {
    // Proves apply can rely on entry.data.atMs: each schema refuses a payload without it.
    for (const type of stateCommandTypes) {
      const result = stateCommands.parse(type, {});
      expect(result.ok).toBe(false);
      if (!result.ok)
        expect(result.error.details?.issues).toContainEqual(
          expect.objectContaining({ path: ['atMs'] }),
        );
    }
  });
});

describe('bad payloads are refused at append', () => {
  const cases: [string, string, unknown, string][] = [
    [
      'node role',
      'node_registered',
      {
        id: 'n',
        name: 'n',
        address: 'a',
        apiAddress: 'b',
        role: 'king',
        labels: {},
        resources: { cpuMhz: 1, memoryMb: 1 },
        atMs: 1,
      },
      'role',
    ],
    [
      'negative memory',
      'node_registered',
      {
        id: 'n',
        name: 'n',
        address: 'a',
        apiAddress: 'b',
        role: 'worker',
        labels: {},
        resources: { cpuMhz: 1, memoryMb: -1 },
        atMs: 1,
      },
      'resources',
    ],
    ['node status', 'node_status', { id: 'n', status: 'sleeping', atMs: 1 }, 'status'],
    ['empty id', 'node_removed', { id: '', atMs: 1 }, 'id'],
    ['control character in id', 'job_stopped', { id: 'a\nb', atMs: 1 }, 'id'],
    ['over-long id', 'job_stopped', { id: 'x'.repeat(limits.stateIdLengthMax + 1), atMs: 1 }, 'id'],
    ['spec not an object', 'job_registered', { id: 'web', spec: [1, 2], atMs: 1 }, 'spec'],
    ['fractional time', 'job_stopped', { id: 'web', atMs: 1.5 }, 'atMs'],
    ['allocation status', 'allocation_status', { id: 'a', status: 'zombie', atMs: 1 }, 'status'],
    ['deployment status', 'deployment_status', { id: 'd', status: 'meh', atMs: 1 }, 'status'],
    [
      'evaluation priority',
      'evaluation_created',
      { id: 'e', jobId: 'j', triggeredBy: 'job-register', priority: 0, atMs: 1 },
      'priority',
    ],
    ['evaluation status', 'evaluation_updated', { id: 'e', status: 'done', atMs: 1 }, 'status'],
    [
      'ciphertext not base64',
      'secret_set',
      { name: 's', ciphertext: 'not base64!', nonce: 'AAAA', keyId: 'k', atMs: 1 },
      'ciphertext',
    ],
    ['secret name missing', 'secret_removed', { atMs: 1 }, 'name'],
    [
      'token hash not hex',
      'token_created',
      { id: 't', name: 'n', role: 'admin', hash: 'abc', atMs: 1 },
      'hash',
    ],
    [
      'token role',
      'token_created',
      { id: 't', name: 'n', role: 'root', hash: 'a'.repeat(64), atMs: 1 },
      'role',
    ],
    ['token revoked without id', 'token_revoked', { atMs: 1 }, 'id'],
    [
      'join token without expiry',
      'join_token_created',
      { id: 'j', hash: 'a'.repeat(64), role: 'worker', atMs: 1 },
      'expiresAtMs',
    ],
    ['join token used without node', 'join_token_used', { id: 'j', atMs: 1 }, 'nodeId'],
  ];
  for (const [what, type, data, field] of cases) {
    test(`${type}: ${what}`, () => {
      // Proves the payload is refused with invalid_message naming the field, and nothing is appended.
      const state = openTestState();
      const error = appendError(() => state.log.append(type, data));
      expect(error.code).toBe('invalid_message');
      expect(error.message).toContain(field);
      expect(state.log.commitIndex()).toBe(0);
    });
  }

  test('a plan naming one allocation twice is refused', () => {
    // Proves the plan schema's duplicate check runs at append, before the plan reaches the log.
    const state = openTestState();
    const plan = planCommitted({
      place: [placement('a1', 'n1')],
      stop: [{ id: 'a1', reason: '' }],
    });
    const error = appendError(() => state.log.append('plan_committed', plan));
    expect(error.code).toBe('invalid_message');
    expect(error.message).toContain('a1');
  });

  test('an unregistered command type is refused with unknown_message_type', () => {
    // Proves a typo in a command name cannot enter the log.
    const state = openTestState();
    expect(appendError(() => state.log.append('node_registred', {})).code).toBe(
      'unknown_message_type',
    );
  });
});
