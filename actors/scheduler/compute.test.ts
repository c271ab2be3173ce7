import { describe, expect, test } from 'bun:test';
import { createPrng } from '../../src/core/prng.ts';
import { PlanCommitted } from '../state/commands.ts';
import { compute } from './compute.ts';
import { planIsEmpty, toPlanCommitted } from './plan-committed.ts';
import { makeContext, makeJob, makeNode, SchedHarness } from './test-harness.ts';

const threeNodes = () => [makeNode('n1'), makeNode('n2'), makeNode('n3')];

describe('place and stop buckets', () => {
  test('a new job places count allocations with fresh ids, names by index, on distinct nodes', () => {
    // Proves the place bucket fills every index once and spread puts siblings apart.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 3 }));
    const { plan, applied } = h.evaluate('web');
    expect(plan.place.map((p) => p.name)).toEqual(['web.web[0]', 'web.web[1]', 'web.web[2]']);
    expect(new Set(plan.place.map((p) => p.id)).size).toBe(3);
    expect(new Set(plan.place.map((p) => p.nodeId)).size).toBe(3);
    expect(plan.stop).toEqual([]);
    expect(plan.blocked).toBeUndefined();
    expect(applied.rejected).toEqual([]);
    expect(planIsEmpty(plan)).toBe(false);
    expect(planIsEmpty(h.evaluate('web').plan)).toBe(true);
  });

  test('raising the count places only the new indexes; lowering it stops the highest', () => {
    // Proves count-only changes touch no existing allocation besides those beyond the count.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 2 }));
    h.evaluate('web');
    h.upsertJob(makeJob('web', { count: 4, version: 2 }));
    const up = h.evaluate('web').plan;
    expect(up.place.map((p) => p.index)).toEqual([2, 3]);
    expect(up.stop).toEqual([]);
    expect(up.destructiveUpdate).toEqual([]);
    expect(up.inPlaceUpdate.length).toBe(2);
    h.upsertJob(makeJob('web', { count: 1, version: 3 }));
    const down = h.evaluate('web').plan;
    const stopped = down.stop.map((s) => h.snapshot.allocations.find((a) => a.id === s.id)!.index);
    expect(stopped.sort()).toEqual([1, 2, 3]);
    expect(down.stop.every((s) => s.reason === 'count_reduced')).toBe(true);
    expect(h.live('web').map((a) => a.index)).toEqual([0]);
  });

  test('a stopped job stops every allocation it runs', () => {
    // Proves status stopped empties the job whatever its count.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 3 }));
    h.evaluate('web');
    h.upsertJob(makeJob('web', { count: 3, version: 2, status: 'stopped' }));
    const { plan } = h.evaluate('web', 'job-deregister');
    expect(plan.stop.length).toBe(3);
    expect(plan.stop.every((s) => s.reason === 'job_stopped')).toBe(true);
    expect(plan.place).toEqual([]);
    expect(h.live('web')).toEqual([]);
  });

  test('a purged job (absent from the snapshot) stops what is left of it', () => {
    // Proves allocations never outlive their job's removal.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 2 }));
    h.evaluate('web');
    h.snapshot.jobs = [];
    const { plan } = h.evaluate('web', 'job-deregister');
    expect(plan.stop.length).toBe(2);
    expect(plan.jobVersion).toBe(1);
  });

  test('the same snapshot, evaluation and seed give the same plan', () => {
    // Proves compute is a pure function of its inputs (deterministic replay).
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 5, ports: [{ label: 'http' }] }));
    const evaluation = { id: 'e', jobId: 'web', triggeredBy: 'job-register' } as const;
    const a = compute(h.snapshot, evaluation, makeContext('x', createPrng(7)));
    const b = compute(h.snapshot, evaluation, makeContext('x', createPrng(7)));
    expect(a).toEqual(b);
  });

  test('the plan converts to a payload the plan_committed schema accepts', () => {
    // Proves toPlanCommitted produces exactly the replicated command shape.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 2, ports: [{ label: 'http' }] }));
    h.evaluate('web');
    h.upsertJob(
      makeJob('web', {
        count: 2,
        version: 2,
        ports: [{ label: 'http' }],
        task: { image: 'web:2' },
      }),
    );
    const { plan } = h.evaluate('web');
    const payload = toPlanCommitted(plan, 1_700_000_000_000);
    expect(PlanCommitted.parse(payload)).toEqual(payload);
    expect(payload.place.length).toBe(1);
    expect(payload.stop.map((s) => s.reason)).toEqual(['destructive_update']);
    expect(payload.deployment).toEqual({ id: plan.deployment!.id });
    expect(payload.place[0]!.ports.http).toBeNumber();
  });
});

describe('updates', () => {
  test('a version that keeps the task updates in place', () => {
    // Proves non-destructive changes keep the containers (inPlaceUpdate bucket).
    const h = new SchedHarness(threeNodes());
    const task = { image: 'web:1', env: { A: '1', B: '2' } };
    h.upsertJob(makeJob('web', { count: 3, task }));
    h.evaluate('web');
    h.upsertJob(
      makeJob('web', { count: 3, version: 2, task: { image: 'web:1', env: { B: '2', A: '1' } } }),
    );
    const { plan } = h.evaluate('web');
    expect(plan.inPlaceUpdate.length).toBe(3);
    expect(plan.inPlaceUpdate.every((u) => u.jobVersion === 2)).toBe(true);
    expect(plan.destructiveUpdate).toEqual([]);
    expect(plan.place).toEqual([]);
    expect(plan.stop).toEqual([]);
  });

  for (const [what, change] of [
    ['image', { task: { image: 'web:2' } }],
    ['env', { task: { image: 'web:1', env: { A: '2' } } }],
    ['command', { task: { image: 'web:1', command: ['serve'] } }],
    ['resources', { resources: { cpuMhz: 200, memoryMb: 128 } }],
    ['ports', { ports: [{ label: 'http' }] }],
  ] as const) {
    test(`a change of ${what} is a destructive update, maxParallel at a time`, () => {
      // Proves destructive changes replace allocations, rolling by update.maxParallel and health.
      const h = new SchedHarness(threeNodes());
      h.upsertJob(
        makeJob('web', {
          count: 4,
          task: { image: 'web:1' },
          update: { maxParallel: 2, canary: 0 },
        }),
      );
      h.evaluate('web');
      h.markHealthy('web');
      h.upsertJob(
        makeJob('web', {
          count: 4,
          version: 2,
          task: { image: 'web:1' },
          update: { maxParallel: 2, canary: 0 },
          ...change,
        }),
      );
      const first = h.evaluate('web').plan;
      expect(first.destructiveUpdate.length).toBe(2);
      expect(first.destructiveUpdate.every((d) => d.stop.reason === 'destructive_update')).toBe(
        true,
      );
      expect(first.destructiveUpdate.map((d) => d.place.replaces)).toEqual(
        first.destructiveUpdate.map((d) => d.stop.id),
      );
      expect(first.inPlaceUpdate).toEqual([]);
      expect(first.deployment?.canaries).toBe(0);
      // Nothing more until the new allocations are healthy.
      expect(h.evaluate('web').plan.destructiveUpdate).toEqual([]);
      h.markHealthy('web');
      const second = h.evaluate('web').plan;
      expect(second.destructiveUpdate.length).toBe(2);
      expect(second.deployment).toBeUndefined();
      h.markHealthy('web');
      expect(h.live('web').map((a) => a.jobVersion)).toEqual([2, 2, 2, 2]);
      expect(
        h
          .live('web')
          .map((a) => a.index)
          .sort(),
      ).toEqual([0, 1, 2, 3]);
    });
  }

  test('canaries run beside the old version until the deployment is promoted', () => {
    // Proves canary placement without stops, a deployment to track it, and rollout after promotion.
    const h = new SchedHarness(threeNodes());
    const update = { maxParallel: 1, canary: 1 };
    h.upsertJob(makeJob('web', { count: 3, task: { image: 'web:1' }, update }));
    h.evaluate('web');
    h.markHealthy('web');
    h.upsertJob(makeJob('web', { count: 3, version: 2, task: { image: 'web:2' }, update }));
    const canary = h.evaluate('web').plan;
    expect(canary.place.length).toBe(1);
    expect(canary.place[0]!.canary).toBe(true);
    expect(canary.stop).toEqual([]);
    expect(canary.destructiveUpdate).toEqual([]);
    expect(canary.deployment).toMatchObject({ jobId: 'web', jobVersion: 2, canaries: 1 });
    expect(h.live('web').length).toBe(4);
    h.markHealthy('web');
    const waiting = h.evaluate('web', 'deployment-watcher').plan;
    expect([waiting.place, waiting.stop, waiting.destructiveUpdate]).toEqual([[], [], []]);
    h.promote('web');
    const promoted = h.evaluate('web', 'deployment-watcher').plan;
    expect(promoted.stop.map((s) => s.reason)).toEqual(['replaced_by_canary']);
    expect(promoted.destructiveUpdate.length).toBe(1);
    for (let round = 0; round < 3; round++) {
      h.markHealthy('web');
      h.evaluate('web', 'deployment-watcher');
    }
    expect(h.live('web').map((a) => a.jobVersion)).toEqual([2, 2, 2]);
  });

  test('a failed deployment halts the rollout', () => {
    // Proves no further destructive updates once the deployment failed (revert is the watcher's).
    const h = new SchedHarness(threeNodes());
    const update = { maxParallel: 1, canary: 0 };
    h.upsertJob(makeJob('web', { count: 3, task: { image: 'web:1' }, update }));
    h.evaluate('web');
    h.markHealthy('web');
    h.upsertJob(makeJob('web', { count: 3, version: 2, task: { image: 'web:2' }, update }));
    h.evaluate('web');
    h.snapshot.deployments = h.snapshot.deployments.map((d) => ({ ...d, status: 'failed' }));
    h.markHealthy('web');
    expect(h.evaluate('web').plan.destructiveUpdate).toEqual([]);
  });
});

describe('node failures and drains', () => {
  test('allocations on a down node are stopped and replaced at once, beyond maxParallel', () => {
    // Proves lost allocations are replaced immediately on other nodes.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 6, update: { maxParallel: 1, canary: 0 } }));
    h.evaluate('web');
    const onN1 = h.live('web').filter((a) => a.nodeId === 'n1');
    expect(onN1.length).toBe(2);
    h.setNode('n1', { status: 'down' });
    const { plan } = h.evaluate('web', 'node-update');
    expect(plan.stop.map((s) => s.id).sort()).toEqual(onN1.map((a) => a.id).sort());
    expect(plan.stop.every((s) => s.reason === 'node_lost')).toBe(true);
    expect(plan.place.length).toBe(2);
    expect(plan.place.every((p) => p.nodeId !== 'n1')).toBe(true);
    expect(plan.place.map((p) => p.replaces).sort()).toEqual(onN1.map((a) => a.id).sort());
    expect(h.live('web').filter((a) => a.nodeId !== 'n1').length).toBe(6);
  });

  test('a failed allocation is replaced', () => {
    // Proves failed service allocations are rescheduled under the same name.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 2 }));
    h.evaluate('web');
    const victim = h.live('web')[0]!;
    h.setStatus(victim.id, 'failed');
    const { plan } = h.evaluate('web', 'alloc-failure');
    expect(plan.stop).toEqual([{ id: victim.id, nodeId: victim.nodeId, reason: 'alloc_failed' }]);
    expect(plan.place.map((p) => [p.name, p.replaces])).toEqual([[victim.name, victim.id]]);
  });

  test('a draining node is emptied maxParallel allocations at a time', () => {
    // Proves drain migrations are paired stop+place and respect update.maxParallel.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('web', { count: 3, spread: false, update: { maxParallel: 1, canary: 0 } }));
    h.evaluate('web');
    h.markHealthy('web');
    const node = h.live('web')[0]!.nodeId;
    expect(h.live('web').every((a) => a.nodeId === node)).toBe(true);
    h.setNode(node, { status: 'draining' });
    for (let round = 1; round <= 3; round++) {
      const { plan } = h.evaluate('web', 'node-update');
      expect(plan.destructiveUpdate.length).toBe(1);
      expect(plan.destructiveUpdate[0]!.stop.reason).toBe('node_draining');
      expect(plan.destructiveUpdate[0]!.place.nodeId).not.toBe(node);
      expect(h.evaluate('web', 'node-update').plan.destructiveUpdate).toEqual([]);
      h.markHealthy('web');
    }
    expect(h.live('web').some((a) => a.nodeId === node)).toBe(false);
    expect(h.live('web').length).toBe(3);
  });
});

describe('job types', () => {
  test('a system job runs once on every eligible node and follows nodes in and out', () => {
    // Proves system placement per node, constraint exclusion, new nodes, and no move on node loss.
    const nodes = [makeNode('n1'), makeNode('n2'), makeNode('n3', { labels: { tier: 'db' } })];
    const h = new SchedHarness(nodes);
    const constraints = [{ attribute: 'tier', operator: '!=' as const, value: 'db' }];
    h.upsertJob(makeJob('agent', { type: 'system', constraints }));
    expect(h.evaluate('agent').plan.place.map((p) => p.nodeId)).toEqual(['n1', 'n2']);
    h.addNode(makeNode('n4'));
    expect(h.evaluate('agent', 'node-update').plan.place.map((p) => p.nodeId)).toEqual(['n4']);
    h.setNode('n2', { status: 'down' });
    const down = h.evaluate('agent', 'node-update').plan;
    expect(down.stop.map((s) => [s.nodeId, s.reason])).toEqual([['n2', 'node_lost']]);
    expect(down.place).toEqual([]);
    h.setNode('n1', { labels: { tier: 'db' } });
    const ineligible = h.evaluate('agent', 'node-update').plan;
    expect(ineligible.stop.map((s) => [s.nodeId, s.reason])).toEqual([['n1', 'node_ineligible']]);
    expect(h.live('agent').map((a) => a.nodeId)).toEqual(['n4']);
  });

  test('a system job update replaces each node’s allocation on that node', () => {
    // Proves destructive system updates stay on their node and respect maxParallel.
    const h = new SchedHarness(threeNodes());
    const update = { maxParallel: 2, canary: 0 };
    h.upsertJob(makeJob('agent', { type: 'system', task: { image: 'a:1' }, update }));
    h.evaluate('agent');
    h.markHealthy('agent');
    h.upsertJob(makeJob('agent', { type: 'system', version: 2, task: { image: 'a:2' }, update }));
    const { plan } = h.evaluate('agent');
    expect(plan.destructiveUpdate.map((d) => [d.stop.nodeId, d.place.nodeId])).toEqual([
      ['n1', 'n1'],
      ['n2', 'n2'],
    ]);
  });

  test('a batch job does not re-run completed allocations but replaces failed ones', () => {
    // Proves batch semantics: complete counts toward the count, failure is retried.
    const h = new SchedHarness(threeNodes());
    h.upsertJob(makeJob('report', { type: 'batch', count: 3 }));
    h.evaluate('report');
    const [a, b] = h.live('report');
    h.setStatus(a!.id, 'complete');
    h.setStatus(b!.id, 'failed');
    const { plan } = h.evaluate('report', 'alloc-failure');
    expect(plan.place.map((p) => p.replaces)).toEqual([b!.id]);
    expect(plan.stop.map((s) => s.id)).toEqual([b!.id]);
  });
});

describe('capacity, ports and volumes', () => {
  test('a job that does not fit is blocked with what is missing, and places once a node joins', () => {
    // Proves blocked evaluations report the shortfall and unblock on new capacity.
    const h = new SchedHarness([makeNode('n1', { resources: { cpuMhz: 1000, memoryMb: 1024 } })]);
    h.upsertJob(
      makeJob('web', { count: 3, resources: { cpuMhz: 400, memoryMb: 256 }, spread: false }),
    );
    const first = h.evaluate('web').plan;
    expect(first.place.length).toBe(2);
    expect(first.blocked).toEqual({
      reason: 'resources',
      unplaced: 1,
      missing: { cpuMhz: 400, memoryMb: 256 },
    });
    h.addNode(makeNode('n2', { resources: { cpuMhz: 1000, memoryMb: 1024 } }));
    const second = h.evaluate('web', 'node-update').plan;
    expect(second.place.map((p) => p.nodeId)).toEqual(['n2']);
    expect(second.blocked).toBeUndefined();
  });

  test('no nodes at all blocks with reason no_nodes; only draining nodes with node_status', () => {
    // Proves the blocked reason names the filter that stopped placement.
    const empty = new SchedHarness([]);
    empty.upsertJob(makeJob('web'));
    expect(empty.evaluate('web').plan.blocked?.reason).toBe('no_nodes');
    const draining = new SchedHarness([makeNode('n1', { status: 'draining' })]);
    draining.upsertJob(makeJob('web'));
    expect(draining.evaluate('web').plan.blocked?.reason).toBe('node_status');
  });

  test('a static port is never given twice on one node', () => {
    // Proves static host ports block a second allocation on the same node and report the port.
    const h = new SchedHarness([makeNode('n1', { reservedPorts: [22] })]);
    h.upsertJob(
      makeJob('web', { count: 2, spread: false, ports: [{ label: 'http', static: 8080 }] }),
    );
    const { plan } = h.evaluate('web');
    expect(plan.place.map((p) => p.ports)).toEqual([{ http: 8080 }]);
    expect(plan.blocked).toEqual({
      reason: 'ports',
      unplaced: 1,
      missing: { cpuMhz: 100, memoryMb: 128, ports: [8080] },
    });
    h.upsertJob(makeJob('ssh', { ports: [{ label: 'ssh', static: 22 }] }));
    expect(h.evaluate('ssh').plan.blocked?.reason).toBe('ports');
  });

  test('dynamic ports come from the range, differ on a node, and depend only on the seed', () => {
    // Proves dynamic port assignment is seeded, in range and conflict-free.
    const build = (seed: number) => {
      const h = new SchedHarness(
        [makeNode('n1', { resources: { cpuMhz: 100_000, memoryMb: 100_000 } })],
        seed,
      );
      h.upsertJob(
        makeJob('web', { count: 50, spread: false, ports: [{ label: 'a' }, { label: 'b' }] }),
      );
      return h.evaluate('web').plan.place.flatMap((p) => Object.values(p.ports));
    };
    const ports = build(3);
    expect(ports.length).toBe(100);
    expect(new Set(ports).size).toBe(100);
    expect(ports.every((p) => p >= 20_000 && p <= 32_000)).toBe(true);
    expect(build(3)).toEqual(ports);
    expect(build(4)).not.toEqual(ports);
  });

  test('a volume pins allocations to the node holding it, and they wait for that node', () => {
    // Proves volume pins: placement only on the holder, blocked while it is down, back when it returns.
    const h = new SchedHarness([
      makeNode('n1'),
      makeNode('n2', { volumes: ['pgdata'] }),
      makeNode('n3'),
    ]);
    h.upsertJob(makeJob('db', { volumes: ['pgdata'] }));
    expect(h.evaluate('db').plan.place.map((p) => p.nodeId)).toEqual(['n2']);
    h.setNode('n2', { status: 'down' });
    const lost = h.evaluate('db', 'node-update').plan;
    expect(lost.place).toEqual([]);
    expect(lost.blocked?.reason).toBe('volumes');
    h.setNode('n2', { status: 'up' });
    expect(h.evaluate('db', 'node-update').plan.place.map((p) => p.nodeId)).toEqual(['n2']);
  });

  test('bin-packing fills the fullest node when spread is off; spread separates siblings', () => {
    // Proves the ranking: utilisation score, spread penalty, tie-break by node id.
    const nodes = () => [
      makeNode('a'),
      makeNode('b', { resources: { cpuMhz: 1000, memoryMb: 2048 } }),
      makeNode('c'),
    ];
    const packed = new SchedHarness(nodes());
    packed.upsertJob(makeJob('web', { count: 3, spread: false }));
    expect(packed.evaluate('web').plan.place.map((p) => p.nodeId)).toEqual(['b', 'b', 'b']);
    const spread = new SchedHarness(nodes());
    spread.upsertJob(makeJob('web', { count: 3 }));
    expect(spread.evaluate('web').plan.place.map((p) => p.nodeId)).toEqual(['b', 'a', 'c']);
  });
});
