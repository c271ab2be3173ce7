import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import { defineMessageKinds } from '../../src/mailbox/message-kinds.ts';
import { nodeMonitorKindDefinitions, parseNodeMonitorMessage } from './messages.ts';

describe('node-monitor messages', () => {
  test('well-formed messages of every type parse to themselves', () => {
    // Proves the schema accepts each message type the runtime sends, unchanged.
    const good = [
      { type: 'heartbeat', nodeId: 'w1', nowMs: 1234.5 },
      { type: 'tick', nowMs: 0 },
      { type: 'leadership', isLeader: true, nowMs: 10 },
      { type: 'committed_node', nodeId: 'w1', status: 'removed', atMs: 1_700_000_000_000 },
    ];
    for (const raw of good) {
      const result = parseNodeMonitorMessage(raw);
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.message).toEqual(raw as never);
    }
  });

  test('garbage is rejected with invalid_message', () => {
    // Proves the trust boundary: wrong types, missing or malformed fields and unknown
    // statuses never reach the step; each is an operating error with a stable code.
    const bad: unknown[] = [
      null,
      'heartbeat',
      {},
      { type: 'explode', nowMs: 1 },
      { type: 'heartbeat', nowMs: 1 },
      { type: 'heartbeat', nodeId: '', nowMs: 1 },
      { type: 'heartbeat', nodeId: 'w1\n', nowMs: 1 },
      { type: 'heartbeat', nodeId: 'x'.repeat(limits.stateIdLengthMax + 1), nowMs: 1 },
      { type: 'heartbeat', nodeId: 42, nowMs: 1 },
      { type: 'tick', nowMs: -1 },
      { type: 'tick', nowMs: Number.NaN },
      { type: 'tick', nowMs: Number.POSITIVE_INFINITY },
      { type: 'tick', nowMs: '5' },
      { type: 'leadership', isLeader: 'yes', nowMs: 1 },
      { type: 'committed_node', nodeId: 'w1', status: 'exploded', atMs: 1 },
      { type: 'committed_node', nodeId: 'w1', status: 'up', atMs: 1.5 },
      { type: 'committed_node', nodeId: 'w1', status: 'up' },
    ];
    for (const raw of bad) {
      const result = parseNodeMonitorMessage(raw);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('invalid_message');
    }
  });

  test('every node-monitor message type is declared local', () => {
    // Proves STYLE.md rule 3 holds: none of these may ever be appended to the log.
    const kinds = defineMessageKinds(nodeMonitorKindDefinitions);
    for (const type of Object.keys(nodeMonitorKindDefinitions)) {
      expect(kinds.kindOf(type)?.delivery).toBe('local');
      expect(() => kinds.requireAppendable(type)).toThrow();
    }
  });
});
