import { describe, expect, test } from 'bun:test';
import { limits } from '../../src/core/limits.ts';
import {
  actions,
  desiredAlloc,
  Harness,
  handleOf,
  listedTask,
  ofType,
  proposals,
} from './test-harness.ts';

describe('container supervisor: reconciliation', () => {
  test('nothing starts before the first driver list; then the missing task starts once', () => {
    // Proves tasks left by a previous agent get a chance to be adopted before any start,
    // and that a start carries the task template without secret values.
    const h = new Harness();
    const alloc = desiredAlloc('a1');
    expect(actions(h.desired(alloc))).toEqual([]);
    expect(actions(h.run(1_000))).toEqual([]);
    const effects = h.observed();
    expect(actions(effects)).toEqual(['start a1']);
    const start = ofType(effects, 'start')[0]!;
    expect(start.task).toEqual(alloc.task);
    expect('secretEnv' in start.task).toBe(false);
    // A start is out: ticks and a repeated desired set do not start it twice.
    expect(actions([...h.run(5_000), ...h.desired(alloc)])).toEqual([]);
  });

  test('a running task with matching labels is adopted, not restarted', () => {
    // Proves DESIGN.md §5 "a node restarts": after an agent restart the supervisor adopts
    // the task by its labels, probes it at once and proposes nothing for a status the log
    // already holds.
    const h = new Harness();
    h.desired(desiredAlloc('a1', { status: 'healthy' }));
    const effects = h.observed(listedTask('a1'));
    expect(actions(effects)).toEqual(['probe a1']);
    expect(ofType(effects, 'log').some((l) => l.msg === 'adopted running task')).toBe(true);
    expect(h.state.allocs.get('a1')!.task).toMatchObject({
      phase: 'running',
      handle: handleOf('a1'),
    });
    const ok = h.send({ type: 'probe_result', allocId: 'a1', ok: true, detail: '200' });
    expect(proposals(ok)).toEqual([]);
    expect(actions(h.run(10_000)).filter((a) => a.startsWith('start'))).toEqual([]);
  });

  test('adopting a task whose allocation is still pending proposes running', () => {
    // Proves an adopted task moves its allocation forward like a started one would.
    const h = new Harness();
    h.desired(desiredAlloc('a1'));
    expect(proposals(h.observed(listedTask('a1')))).toEqual(['running:adopted']);
  });

  test('a list that arrives before the desired set is held, so nothing is an orphan', () => {
    // Proves the agent start-up race: without the desired set every task would look
    // unowned; the supervisor waits for it and then adopts.
    const h = new Harness();
    expect(actions(h.observed(listedTask('a1')))).toEqual([]);
    const effects = h.desired(desiredAlloc('a1', { status: 'running' }));
    expect(actions(effects)).toEqual(['probe a1']);
    expect(h.state.allocs.get('a1')!.task.phase).toBe('running');
  });

  test('orphans are stopped and removed; other nodes’ tasks are left alone', () => {
    // Proves a task no allocation of this node owns is cleaned up (stopped first when it
    // runs, only removed when it exited), while a task labelled for another node on a
    // shared daemon is not touched.
    const h = new Harness();
    h.desired(desiredAlloc('a1', { status: 'running' }));
    const effects = h.observed(
      listedTask('a1'),
      listedTask('ghost'),
      listedTask('old', { state: 'exited', exitCode: 0 }),
      listedTask('theirs', {}, 'node-2'),
    );
    expect(actions(effects)).toEqual([
      'stop task-ghost',
      'remove task-ghost',
      'remove task-old',
      'probe a1',
    ]);
  });

  test('desired stop stops then removes the task and proposes complete once', () => {
    // Proves the stop path: stop with the allocation's timeout, then remove, then report;
    // repeating the desired set repeats nothing.
    const h = new Harness();
    const alloc = desiredAlloc('a1', { stopTimeoutMs: 7_000 });
    h.startRunning(alloc);
    const effects = h.desired({ ...alloc, desired: 'stop', status: 'running' });
    expect(actions(effects)).toEqual([
      'stop task-a1',
      'remove task-a1',
      'propose a1 complete:stopped',
    ]);
    expect(ofType(effects, 'stop')[0]!.timeoutMs).toBe(7_000);
    const again = [...h.desired({ ...alloc, desired: 'stop', status: 'running' }), ...h.run(5_000)];
    expect(actions(again)).toEqual([]);
    // The stopped task's exit event is expected and changes nothing.
    const exit = h.send({ type: 'task_exited', allocId: 'a1', exitCode: 143, oom: false });
    expect(actions(exit)).toEqual([]);
  });

  test('an allocation that leaves the desired set is stopped without a proposal', () => {
    // Proves the log no longer speaks of it, so only the task is cleaned up.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    expect(actions(h.desired())).toEqual(['stop task-a1', 'remove task-a1']);
    expect(h.state.allocs.size).toBe(0);
  });

  test('a committed lost status stops the task and nothing restarts it', () => {
    // Proves DESIGN.md §5 "a partition": once the log marks the allocation lost (replaced
    // elsewhere), the duplicate here is stopped and the supervisor proposes nothing.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    const effects = h.send({ type: 'committed_status', allocId: 'a1', status: 'lost' });
    expect(actions(effects)).toEqual(['stop task-a1', 'remove task-a1']);
    expect(actions(h.run(30_000))).toEqual([]);
  });

  test('a stop wanted while a start is out stops the task as soon as it starts', () => {
    // Proves the start/stop race: the handle is unknown until task_started, which then
    // stops the task instead of marking it running.
    const h = new Harness();
    const alloc = desiredAlloc('a1');
    h.desired(alloc);
    h.observed();
    expect(actions(h.desired({ ...alloc, desired: 'stop' }))).toEqual([]);
    const effects = h.send({ type: 'task_started', allocId: 'a1', handle: handleOf('a1') });
    expect(actions(effects)).toEqual([
      'stop task-a1',
      'remove task-a1',
      'propose a1 complete:stopped',
    ]);
  });

  test('a start answered after the allocation left is stopped as an orphan', () => {
    // Proves no task outlives its allocation because of a slow start.
    const h = new Harness();
    h.desired(desiredAlloc('a1'));
    h.observed();
    h.desired();
    const effects = h.send({ type: 'task_started', allocId: 'a1', handle: handleOf('a1') });
    expect(actions(effects)).toEqual(['stop task-a1', 'remove task-a1']);
  });

  test('a second task for one allocation is stopped; ours keeps running', () => {
    // Proves duplicates found by a resync are removed without disturbing the live task.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    const dup = listedTask('a1', { handle: handleOf('a1', 'dup') });
    expect(actions(h.observed(listedTask('a1'), dup))).toEqual(['stop dup', 'remove dup']);
    expect(h.state.allocs.get('a1')!.task).toMatchObject({
      phase: 'running',
      handle: handleOf('a1'),
    });
  });

  test('a task missing from two driver lists in a row is taken as gone and restarted', () => {
    // Proves a vanished task (removed behind our back) is noticed, while one list that
    // predates a just-finished start is not enough to declare it gone.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    expect(actions(h.observed())).toEqual([]);
    const gone = h.observed();
    expect(actions(gone)).toEqual(['remove task-a1', 'propose a1 unhealthy:restarting']);
    expect(actions(h.run(2_000)).filter((a) => a.startsWith('start'))).toEqual(['start a1']);
  });

  test('an exit shown by the driver list is trusted only when two lists agree', () => {
    // Proves a list that predates a restart under the same name (or shows an exit before
    // its code is known) cannot kill the new task, while a missed exit event is still
    // caught by the next list, with its exit code.
    const h = new Harness();
    h.startRunning(desiredAlloc('a1'));
    const exited = listedTask('a1', { state: 'exited', exitCode: 137 });
    expect(actions(h.observed(exited))).toEqual([]);
    expect(actions(h.observed(listedTask('a1')))).toEqual([]);
    expect(actions(h.observed(exited))).toEqual([]);
    const gone = h.observed(exited);
    expect(actions(gone)).toEqual(['remove task-a1', 'propose a1 unhealthy:restarting']);
    expect(ofType(gone, 'propose_status')[0]!.detail).toContain('exited with code 137');
  });

  test('an exit missed while the agent was down counts against the restart policy', () => {
    // Proves a task found exited on the first list is removed and restarted by policy
    // (not silently recreated), so crash loops across agent restarts still fail.
    const h = new Harness();
    h.desired(desiredAlloc('a1', { status: 'healthy' }));
    const effects = h.observed(listedTask('a1', { state: 'exited', exitCode: 3 }));
    expect(actions(effects)).toEqual(['remove task-a1', 'propose a1 unhealthy:restarting']);
    expect(h.state.allocs.get('a1')!.restartsMs).toHaveLength(1);
  });

  test('a desired set beyond the limit is cut with an error log', () => {
    // Proves the supervisor's memory is bounded by limits.supervisorAllocationsMax.
    const h = new Harness();
    const many = Array.from({ length: limits.supervisorAllocationsMax + 2 }, (_, i) =>
      desiredAlloc(`a${i}`),
    );
    const effects = h.desired(...many);
    expect(h.state.allocs.size).toBe(limits.supervisorAllocationsMax);
    expect(ofType(effects, 'log').filter((l) => l.level === 'error')).toHaveLength(2);
  });
});
