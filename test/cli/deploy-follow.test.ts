import { describe, expect, test } from 'bun:test';
import { judge, progressLine } from '../../src/cli/commands/deploy.ts';

const alloc = (id: string, status: string, jobVersion = 3) => ({
  id,
  jobVersion,
  node: 'n1',
  status,
});

describe('rollout judgement', () => {
  test('a service is done at count healthy; extra statuses are listed sorted', () => {
    // Proves the success rule for services and the progress line format.
    const target = { name: 'web', version: 3, type: 'service' as const, count: 3 };
    const partial = judge(
      target,
      [alloc('a', 'healthy'), alloc('b', 'running'), alloc('c', 'pending')],
      [],
    );
    expect(partial.done).toBe(false);
    expect(progressLine(partial)).toBe('web v3: 1/3 healthy, 1 pending, 1 running');
    const full = judge(
      target,
      ['a', 'b', 'c'].map((id) => alloc(id, 'healthy')),
      [],
    );
    expect(full.done).toBe(true);
  });

  test('a system job is done when every placed allocation is healthy, never when none is', () => {
    // Proves system jobs ignore count and need at least one allocation.
    const target = { name: 'agent', version: 3, type: 'system' as const, count: 1 };
    expect(judge(target, [], []).done).toBe(false);
    const two = judge(target, [alloc('a', 'healthy'), alloc('b', 'pending')], []);
    expect([two.done, progressLine(two)]).toEqual([false, 'agent v3: 1/2 healthy, 1 pending']);
    expect(judge(target, [alloc('a', 'healthy'), alloc('b', 'healthy')], []).done).toBe(true);
  });

  test('only a failed deployment of the same version counts as failure', () => {
    // Proves an old version's failed deployment does not fail a new rollout.
    const target = { name: 'web', version: 3, type: 'service' as const, count: 0 };
    const old = judge(target, [], [{ id: 'd1', jobVersion: 2, status: 'failed' }]);
    expect([old.failedDeployment, old.done]).toEqual([null, true]);
    const now = judge(target, [], [{ id: 'd2', jobVersion: 3, status: 'failed' }]);
    expect(now.failedDeployment?.id).toBe('d2');
  });
});
