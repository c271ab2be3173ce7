import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import { defineMessageKinds } from '../../src/mailbox/message-kinds.ts';
import { AllocationStatusChanged } from '../state/commands.ts';
import { toAllocationStatusCommand } from './effects.ts';
import { parseSupervisorMessage, supervisorKindDefinitions } from './messages.ts';
import { desiredAlloc, handleOf, listedTask } from './test-harness.ts';

describe('container-supervisor messages', () => {
  test('well-formed messages of every type parse to themselves', () => {
    // Proves the schema accepts each message the host sends, unchanged.
    const good = [
      { type: 'desired', allocations: [desiredAlloc('a1')] },
      { type: 'committed_status', allocId: 'a1', status: 'lost' },
      { type: 'observed', tasks: [listedTask('a1')], nowMs: 12.5 },
      { type: 'task_started', allocId: 'a1', handle: handleOf('a1') },
      { type: 'task_start_failed', allocId: 'a1', code: 'port_in_use', message: 'busy' },
      { type: 'task_exited', allocId: 'a1', exitCode: 137, oom: true },
      { type: 'task_exited', allocId: 'a1', exitCode: null, oom: false },
      { type: 'probe_result', allocId: 'a1', ok: false, detail: 'HTTP 500' },
      { type: 'proposal_failed', allocId: 'a1', status: 'healthy' },
      { type: 'tick', nowMs: 0 },
    ];
    for (const raw of good) {
      const result = parseSupervisorMessage(raw);
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.message).toEqual(raw as never);
    }
  });

  test('malformed messages are rejected with invalid_message', () => {
    // Proves the trust boundary, including the cross-field rules of a desired allocation
    // (a check on an unpublished port, a task for another allocation).
    const alloc = desiredAlloc('a1');
    const bad: unknown[] = [
      null,
      { type: 'explode' },
      { type: 'tick', nowMs: -1 },
      { type: 'committed_status', allocId: 'a1', status: 'exploded' },
      { type: 'task_exited', allocId: 'a1', exitCode: 1.5, oom: false },
      { type: 'desired', allocations: [{ ...alloc, check: { kind: 'tcp', portLabel: 'nope' } }] },
      { type: 'desired', allocations: [{ ...alloc, task: { ...alloc.task, allocId: 'a2' } }] },
      { type: 'desired', allocations: [{ ...alloc, desired: 'pause' }] },
      { type: 'observed', tasks: [{ ...listedTask('a1'), state: 'paused' }], nowMs: 1 },
    ];
    for (const raw of bad) {
      const result = parseSupervisorMessage(raw);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('invalid_message');
    }
  });

  test('every message type is declared local', () => {
    // Proves STYLE.md rule 3: none of these may ever enter the log.
    const kinds = defineMessageKinds(supervisorKindDefinitions);
    for (const name of Object.keys(supervisorKindDefinitions)) {
      expect(kinds.kindOf(name)?.delivery).toBe('local');
    }
  });
});

describe('allocation status commands', () => {
  test('a proposal becomes a valid allocation_status payload, its detail cut to fit', () => {
    // Proves the runtime can hand every proposal to the log: the command schema accepts it
    // even when a driver error made the detail longer than the log allows.
    const long = 'x'.repeat(limits.stateDetailLengthMax + 50);
    const command = toAllocationStatusCommand(
      { allocId: 'a1', status: 'failed', detail: long },
      1_700_000_000_000,
    );
    const parsed = AllocationStatusChanged.safeParse(command);
    expect(parsed.success).toBe(true);
    expect(command.detail).toHaveLength(limits.stateDetailLengthMax);
    expect(command).toMatchObject({ id: 'a1', status: 'failed', atMs: 1_700_000_000_000 });
  });
});
