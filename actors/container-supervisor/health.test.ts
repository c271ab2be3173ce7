import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import type { SupervisorEffect } from './effects.ts';
import { probeTarget } from './health.ts';
import { actions, desiredAlloc, Harness, handleOf, ofType, proposals } from './test-harness.ts';

function probe(h: Harness, ok: boolean, detail = ok ? '200' : 'connection refused') {
  return h.send({ type: 'probe_result', allocId: 'a1', ok, detail });
}

describe('container supervisor: health', () => {
  test('probes start after the grace, run every interval, one at a time', () => {
    // Proves probe scheduling: none during checkGraceMs, then one per checkIntervalMs,
    // and never a second while one is still out.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1', { checkGraceMs: 2_000, checkIntervalMs: 1_000 }));
    expect(ofType(h.run(1_900), 'probe')).toHaveLength(0);
    expect(ofType(h.run(200), 'probe')).toHaveLength(1);
    // The probe is still out: no second one even after several intervals.
    expect(ofType(h.run(5_000), 'probe')).toHaveLength(0);
    probe(h, true);
    expect(ofType(h.run(100), 'probe')).toHaveLength(1);
    probe(h, true);
    const next = h.run(1_000);
    expect(ofType(next, 'probe')).toHaveLength(1);
    expect(ofType(next, 'probe')[0]!.check).toEqual({
      kind: 'http',
      host: '127.0.0.1',
      port: 20_000,
      path: '/up',
      timeoutMs: 500,
    });
  });

  test('the first success is healthy, proposed once however many probes pass', () => {
    // Proves the transition rule: running → healthy on the first passing probe, and no
    // duplicate proposal for every later success.
    const h = new Harness();
    expect(proposals(h.startRunning(desiredAlloc('a1')))).toEqual(['running:started']);
    const all: SupervisorEffect[] = [];
    for (let i = 0; i < 10; i++) {
      h.run(3_000);
      all.push(...probe(h, true));
    }
    expect(proposals(all)).toEqual(['healthy:probe_ok']);
  });

  test('three consecutive failures are unhealthy; a success heals; no duplicates', () => {
    // Proves limits.supervisorProbeFailuresMax consecutive failures turn a healthy task
    // unhealthy (once), that a success in between resets the count, and that recovery
    // proposes healthy again.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    const seq: [boolean, string[]][] = [
      [true, ['healthy:probe_ok']],
      [false, []],
      [false, []],
      [true, []],
      [false, []],
      [false, []],
      [false, ['unhealthy:probe_failed']],
      [false, []],
      [false, []],
      [true, ['healthy:probe_ok']],
    ];
    expect(limits.supervisorProbeFailuresMax).toBe(3);
    for (const [ok, expected] of seq) {
      h.run(3_000);
      expect(proposals(probe(h, ok))).toEqual(expected);
    }
  });

  test('the unhealthy detail names the failure count and the last probe detail', () => {
    // Proves an operator sees why: the detail carries the probe's own message.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    let last: SupervisorEffect[] = [];
    for (let i = 0; i < 3; i++) {
      h.run(3_000);
      last = probe(h, false, 'HTTP 503');
    }
    expect(ofType(last, 'propose_status')[0]!.detail).toBe('3 consecutive checks failed: HTTP 503');
  });

  test('a task without a check is healthy once it has run for the minimum time', () => {
    // Proves the no-check rule: healthy after noCheckHealthyAfterMs of running, proposed once.
    const h = new Harness({ noCheckHealthyAfterMs: 1_000 });
    h.startRunning(desiredAlloc('a1', { check: undefined }));
    expect(proposals(h.run(900))).toEqual([]);
    expect(proposals(h.run(200))).toEqual(['healthy:running_without_check']);
    expect(actions(h.run(10_000))).toEqual([]);
  });

  test('a probe result from before a restart is ignored', () => {
    // Proves a stale result cannot mark a freshly restarted task healthy.
    const h = new Harness();
    h.startRunning(
      desiredAlloc('a1', {
        restart: { attempts: 3, intervalMs: 60_000, delayMs: 0, mode: 'fail' },
      }),
    );
    h.run(2_100);
    h.send({ type: 'task_exited', allocId: 'a1', exitCode: 1, oom: false });
    h.advance(10);
    h.send({ type: 'task_started', allocId: 'a1', handle: handleOf('a1') });
    expect(proposals(probe(h, true))).toEqual([]);
  });

  test('a lost healthy proposal is proposed again on the next success, boundedly', () => {
    // Proves proposal_failed resets what was reported, so the transition is re-proposed,
    // and that re-proposals stop after limits.supervisorProposeAttemptsMax losses.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    h.run(3_000);
    expect(proposals(probe(h, true))).toEqual(['healthy:probe_ok']);
    let reproposed = 0;
    for (let i = 0; i < limits.supervisorProposeAttemptsMax + 3; i++) {
      const lost = h.send({ type: 'proposal_failed', allocId: 'a1', status: 'healthy' });
      h.run(1_000);
      reproposed += proposals([...lost, ...probe(h, true)]).length;
    }
    expect(reproposed).toBe(limits.supervisorProposeAttemptsMax);
  });

  test('a lost terminal proposal is proposed again', () => {
    // Proves a failed/complete outcome is not forgotten when its proposal is lost.
    const h = new Harness();
    h.startRunning(desiredAlloc('b1', { jobType: 'batch', check: undefined }));
    h.send({ type: 'task_exited', allocId: 'b1', exitCode: 0, oom: false });
    const lost = h.send({ type: 'proposal_failed', allocId: 'b1', status: 'complete' });
    expect(proposals(lost)).toEqual(['complete:exited_ok']);
    expect(proposals(h.run(5_000))).toEqual([]);
    h.send({ type: 'committed_status', allocId: 'b1', status: 'complete' });
    expect(actions(h.run(5_000))).toEqual([]);
  });

  test('checks resolve their port label to the published host port', () => {
    // Proves probe targets for each check kind: http and tcp on hostAddress:hostPort,
    // command with the task's env and workdir.
    const base = desiredAlloc('a1');
    const tcp = probeTarget({ ...base, check: { kind: 'tcp', portLabel: 'http' } });
    expect(tcp).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 20_000, timeoutMs: 500 });
    const task = { ...base.task, workdir: '/srv' };
    const command = probeTarget({ ...base, task, check: { kind: 'command', argv: ['true'] } });
    expect(command).toEqual({
      kind: 'command',
      argv: ['true'],
      env: { MODE: 'test' },
      workdir: '/srv',
      timeoutMs: 500,
    });
  });
});
