import { describe, expect, test } from 'bun:test';
import { applyPlan } from './apply-plan.ts';
import { compute } from './compute.ts';
import { makeContext, makeJob, makeNode, SchedHarness } from './test-harness.ts';

const evaluation = (id: string, jobId: string) =>
  ({ id, jobId, triggeredBy: 'job-register' }) as const;

describe('applyPlan re-check', () => {
  test('placements on a node that went down are dropped; the rest commits', () => {
    // Proves a partial commit with the stable code node_not_ready.
    const h = new SchedHarness([makeNode('n1'), makeNode('n2')]);
    h.upsertJob(makeJob('web', { count: 2 }));
    const plan = compute(h.snapshot, evaluation('e1', 'web'), makeContext('e1'));
    expect(plan.place.map((p) => p.nodeId).sort()).toEqual(['n1', 'n2']);
    h.setNode('n2', { status: 'down' });
    const { committed, rejected } = applyPlan(h.snapshot, plan);
    expect(committed.place.map((p) => p.nodeId)).toEqual(['n1']);
    expect(rejected.map((r) => [r.item.kind, r.code])).toEqual([['place', 'node_not_ready']]);
  });

  test('two plans computed from one snapshot cannot over-commit a node', () => {
    // Proves the applier sees the first plan's usage: insufficient_resources for the second.
    const h = new SchedHarness([makeNode('n1', { resources: { cpuMhz: 1000, memoryMb: 1000 } })]);
    h.upsertJob(makeJob('a', { resources: { cpuMhz: 600, memoryMb: 100 } }));
    h.upsertJob(makeJob('b', { resources: { cpuMhz: 600, memoryMb: 100 } }));
    const planA = compute(h.snapshot, evaluation('ea', 'a'), makeContext('ea'));
    const planB = compute(h.snapshot, evaluation('eb', 'b'), makeContext('eb'));
    h.commit(applyPlan(h.snapshot, planA).committed);
    const { committed, rejected } = applyPlan(h.snapshot, planB);
    expect(committed.place).toEqual([]);
    expect(rejected.map((r) => r.code)).toEqual(['insufficient_resources']);
  });

  test('a host port taken since the plan was computed is a port_conflict', () => {
    // Proves port re-checks, including static ports claimed by a concurrent plan.
    const h = new SchedHarness([makeNode('n1')]);
    h.upsertJob(makeJob('a', { ports: [{ label: 'http', static: 80 }] }));
    h.upsertJob(makeJob('b', { ports: [{ label: 'web', static: 80 }] }));
    const planA = compute(h.snapshot, evaluation('ea', 'a'), makeContext('ea'));
    const planB = compute(h.snapshot, evaluation('eb', 'b'), makeContext('eb'));
    h.commit(applyPlan(h.snapshot, planA).committed);
    expect(applyPlan(h.snapshot, planB).rejected.map((r) => r.code)).toEqual(['port_conflict']);
  });

  test('a plan for an outdated job version is rejected whole', () => {
    // Proves stale_job: nothing of a superseded version commits.
    const h = new SchedHarness([makeNode('n1')]);
    h.upsertJob(makeJob('web', { count: 2 }));
    const plan = compute(h.snapshot, evaluation('e1', 'web'), makeContext('e1'));
    h.upsertJob(makeJob('web', { count: 3, version: 2 }));
    const { committed, rejected } = applyPlan(h.snapshot, plan);
    expect(committed.place).toEqual([]);
    expect(rejected.map((r) => r.code)).toEqual(['stale_job', 'stale_job']);
  });

  test('a destructive update whose placement no longer fits keeps the old allocation', () => {
    // Proves stop+place pairs commit together or not at all.
    const h = new SchedHarness([makeNode('n1', { resources: { cpuMhz: 1000, memoryMb: 1000 } })]);
    h.upsertJob(
      makeJob('web', { resources: { cpuMhz: 400, memoryMb: 100 }, task: { image: '1' } }),
    );
    h.evaluate('web');
    h.markHealthy('web');
    h.upsertJob(
      makeJob('web', {
        version: 2,
        resources: { cpuMhz: 900, memoryMb: 100 },
        task: { image: '2' },
      }),
    );
    const plan = compute(h.snapshot, evaluation('e2', 'web'), makeContext('e2'));
    expect(plan.destructiveUpdate.length).toBe(1);
    // Another job takes cpu on n1 before the plan reaches the applier.
    h.snapshot.allocations.push({
      id: 'other',
      jobId: 'other',
      jobVersion: 1,
      nodeId: 'n1',
      name: 'other.other[0]',
      index: 0,
      resources: { cpuMhz: 200, memoryMb: 100 },
      ports: {},
      desiredStatus: 'run',
      clientStatus: 'running',
    });
    const { committed, rejected } = applyPlan(h.snapshot, plan);
    expect(committed.destructiveUpdate).toEqual([]);
    expect(rejected.map((r) => [r.item.kind, r.code])).toEqual([
      ['stop', 'paired_item_rejected'],
      ['place', 'insufficient_resources'],
    ]);
  });

  test('stops of vanished or already stopped allocations are rejected by code', () => {
    // Proves alloc_not_found and alloc_already_stopped, and that other stops still commit.
    const h = new SchedHarness([makeNode('n1')]);
    h.upsertJob(makeJob('web', { count: 3 }));
    h.evaluate('web');
    h.upsertJob(makeJob('web', { count: 0, version: 2 }));
    const plan = compute(h.snapshot, evaluation('e2', 'web'), makeContext('e2'));
    const [a, b] = plan.stop;
    h.snapshot.allocations = h.snapshot.allocations
      .filter((x) => x.id !== a!.id)
      .map((x) => (x.id === b!.id ? { ...x, desiredStatus: 'stop' } : x));
    const { committed, rejected } = applyPlan(h.snapshot, plan);
    expect(committed.stop.length).toBe(1);
    expect(rejected.map((r) => r.code).sort()).toEqual([
      'alloc_already_stopped',
      'alloc_not_found',
    ]);
  });

  test('a placement id already in use is rejected', () => {
    // Proves the applier never creates two allocations with one id.
    const h = new SchedHarness([makeNode('n1')]);
    h.upsertJob(makeJob('web'));
    const plan = compute(h.snapshot, evaluation('e1', 'web'), makeContext('e1'));
    h.commit(applyPlan(h.snapshot, plan).committed);
    expect(applyPlan(h.snapshot, plan).rejected.map((r) => r.code)).toEqual(['alloc_id_taken']);
  });
});
