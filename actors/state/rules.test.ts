import { describe, expect, test } from 'bun:test';
import {
  decideAllocationStatus,
  decideDeploymentStatus,
  decideEvaluationStatus,
  decideJobVersion,
  decideJoinTokenUse,
  decidePlan,
  decideTokenRevoke,
  type PlanLookups,
} from './rules.ts';

const code = (v: { ok: boolean; code?: string }) => (v.ok ? 'ok' : v.code);

describe('state rules', () => {
  test('allocation statuses never leave a terminal status nor return to pending', () => {
    // Proves the allocation transition table, including repeats being accepted.
    expect(code(decideAllocationStatus('a', 'pending', 'running'))).toBe('ok');
    expect(code(decideAllocationStatus('a', 'healthy', 'unhealthy'))).toBe('ok');
    expect(code(decideAllocationStatus('a', 'unhealthy', 'healthy'))).toBe('ok');
    expect(code(decideAllocationStatus('a', 'running', 'lost'))).toBe('ok');
    expect(code(decideAllocationStatus('a', 'failed', 'failed'))).toBe('ok');
    expect(code(decideAllocationStatus('a', 'complete', 'running'))).toBe('allocation_terminal');
    expect(code(decideAllocationStatus('a', 'lost', 'healthy'))).toBe('allocation_terminal');
    expect(code(decideAllocationStatus('a', 'running', 'pending'))).toBe(
      'allocation_transition_invalid',
    );
    expect(code(decideAllocationStatus('a', undefined, 'running'))).toBe('allocation_unknown');
  });

  test('deployments and evaluations stick in their terminal statuses', () => {
    // Proves the deployment and evaluation transition tables.
    expect(code(decideDeploymentStatus('d', 'paused', 'running'))).toBe('ok');
    expect(code(decideDeploymentStatus('d', 'cancelled', 'running'))).toBe('deployment_terminal');
    expect(code(decideDeploymentStatus('d', undefined, 'running'))).toBe('deployment_unknown');
    expect(code(decideEvaluationStatus('e', 'blocked', 'pending'))).toBe('ok');
    expect(code(decideEvaluationStatus('e', 'failed', 'pending'))).toBe('evaluation_terminal');
    expect(code(decideEvaluationStatus('e', undefined, 'pending'))).toBe('evaluation_unknown');
  });

  test('job versions count from 1 and honour expectedVersion', () => {
    // Proves previous + 1 and the check-and-set, with 0 meaning "must not exist".
    expect(decideJobVersion('j', undefined, undefined)).toEqual({ ok: true, version: 1 });
    expect(decideJobVersion('j', 4, undefined)).toEqual({ ok: true, version: 5 });
    expect(decideJobVersion('j', undefined, 0)).toEqual({ ok: true, version: 1 });
    expect(code(decideJobVersion('j', 1, 0))).toBe('job_version_conflict');
    expect(code(decideJobVersion('j', 3, 2))).toBe('job_version_conflict');
  });

  test('join tokens are single-use and expire exclusively at expiresAtMs', () => {
    // Proves the join-token rule: unknown, used, expired at the bound, accepted just before it.
    const fresh = { role: 'worker' as const, expiresAtMs: 100, usedAtMs: null };
    expect(code(decideJoinTokenUse('j', fresh, 99))).toBe('ok');
    expect(code(decideJoinTokenUse('j', fresh, 100))).toBe('join_token_expired');
    expect(code(decideJoinTokenUse('j', { ...fresh, usedAtMs: 5 }, 10))).toBe('join_token_used');
    expect(code(decideJoinTokenUse('j', undefined, 10))).toBe('join_token_unknown');
  });

  test('tokens are revoked once', () => {
    // Proves the revoke rule.
    expect(code(decideTokenRevoke('t', { revokedAtMs: null }))).toBe('ok');
    expect(code(decideTokenRevoke('t', { revokedAtMs: 3 }))).toBe('token_revoked');
    expect(code(decideTokenRevoke('t', undefined))).toBe('token_unknown');
  });

  test('decidePlan accepts a consistent plan', () => {
    // Proves a plan on known nodes, known job version and owned allocations passes.
    const state: PlanLookups = {
      jobVersion: (id) => (id === 'web' ? 2 : undefined),
      nodeExists: (id) => id === 'n1',
      allocationJob: (id) => (id === 'a1' ? 'web' : undefined),
      deploymentExists: () => false,
    };
    const plan = {
      evalId: 'e',
      jobId: 'web',
      jobVersion: 2,
      place: [
        {
          id: 'a2',
          group: 'g',
          name: 'g[0]',
          nodeId: 'n1',
          resources: { cpuMhz: 1, memoryMb: 1 },
          ports: {},
        },
      ],
      stop: [],
      update: [{ id: 'a1', jobVersion: 2 }],
      deployment: { id: 'd' },
      atMs: 1,
    };
    expect(code(decidePlan(plan, state))).toBe('ok');
    expect(code(decidePlan({ ...plan, update: [{ id: 'a1', jobVersion: 3 }] }, state))).toBe(
      'job_version_unknown',
    );
  });
});
