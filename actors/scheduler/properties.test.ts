/**
 * Property tests over random clusters and jobs (fast-check). Each run registers the jobs,
 * evaluates them through compute → applyPlan → commit, perturbs the nodes, evaluates
 * again, and checks the invariants on the resulting state with plain arithmetic.
 * `SCHED_PROPERTY_RUNS` raises the number of runs for a longer soak.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { applyPlan } from './apply-plan.ts';
import { compute } from './compute.ts';
import { constraintHolds } from './feasibility.ts';
import { makeContext, makeJob, makeNode, SchedHarness } from './test-harness.ts';
import type { SchedConstraint, SchedJob, SchedNode } from './types.ts';

const numRuns = Number(process.env.SCHED_PROPERTY_RUNS ?? 60);
/** Generous per-run allowance so a long soak is not cut off; never a timing assertion. */
const testTimeoutMs = 10_000 + numRuns * 100;
const zones = ['eu', 'us', 'ap'];
const volumeNames = ['pg', 'redis'];

const nodeArb = fc.record({
  cpuMhz: fc.integer({ min: 0, max: 4000 }),
  memoryMb: fc.integer({ min: 0, max: 4096 }),
  zone: fc.constantFrom(...zones),
  volumes: fc.subarray(volumeNames),
  reservedPorts: fc.subarray([80, 443, 8080]),
});

const constraintArb: fc.Arbitrary<SchedConstraint> = fc.oneof(
  fc.record({
    attribute: fc.constant('zone'),
    operator: fc.constantFrom('=', '!=' as const),
    value: fc.constantFrom(...zones),
  }),
  fc.record({
    attribute: fc.constant('zone'),
    operator: fc.constantFrom('in', 'not_in' as const),
    value: fc.subarray(zones),
  }),
  fc.record({
    attribute: fc.constant('zone'),
    operator: fc.constant('regex' as const),
    value: fc.constantFrom('^e', 'u', '^(us|ap)$'),
  }),
);

const jobArb = fc.record({
  type: fc.constantFrom('service', 'service', 'batch', 'system' as const),
  count: fc.integer({ min: 0, max: 12 }),
  cpuMhz: fc.integer({ min: 1, max: 1500 }),
  memoryMb: fc.integer({ min: 1, max: 1500 }),
  staticPort: fc.option(fc.constantFrom(80, 443, 8080, 9000), { nil: undefined }),
  dynamicPorts: fc.integer({ min: 0, max: 2 }),
  volumes: fc.subarray(volumeNames, { maxLength: 1 }),
  constraints: fc.array(constraintArb, { maxLength: 2 }),
  spread: fc.boolean(),
  resize: fc.boolean(),
  canary: fc.integer({ min: 0, max: 2 }),
  newImage: fc.boolean(),
});

const clusterArb = fc.record({
  nodes: fc.array(nodeArb, { minLength: 0, maxLength: 10 }),
  jobs: fc.array(jobArb, { minLength: 1, maxLength: 6 }),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  downNode: fc.nat(),
  drainNode: fc.nat(),
});

type ClusterCase = typeof clusterArb extends fc.Arbitrary<infer T> ? T : never;

function buildNodes(c: ClusterCase): SchedNode[] {
  return c.nodes.map((n, i) =>
    makeNode(`n${String(i).padStart(2, '0')}`, {
      resources: { cpuMhz: n.cpuMhz, memoryMb: n.memoryMb },
      labels: { zone: n.zone },
      volumes: n.volumes,
      reservedPorts: n.reservedPorts,
    }),
  );
}

function buildJobs(c: ClusterCase): SchedJob[] {
  return c.jobs.map((j, i) =>
    makeJob(`job${i}`, {
      type: j.type,
      count: j.count,
      resources: { cpuMhz: j.cpuMhz, memoryMb: j.memoryMb },
      ports: [
        ...(j.staticPort === undefined ? [] : [{ label: 'fixed', static: j.staticPort }]),
        ...Array.from({ length: j.dynamicPorts }, (_, k) => ({ label: `dyn${k}` })),
      ],
      volumes: j.volumes,
      constraints: j.constraints,
      spread: j.spread,
      update: { maxParallel: 2, canary: j.canary },
      task: { image: 'v1' },
    }),
  );
}

/** Evaluates a job and checks that compute alone already respects everything applyPlan checks. */
function evaluateChecked(h: SchedHarness, jobId: string): void {
  const plan = compute(
    h.snapshot,
    { id: 'p', jobId, triggeredBy: 'job-register' },
    makeContext('p'),
  );
  const recheck = applyPlan(h.snapshot, plan);
  expect(recheck.rejected).toEqual([]);
  const before = h.snapshot;
  h.evaluate(jobId);
  const job = before.jobs.find((j) => j.id === jobId)!;
  const placed = h.snapshot.allocations.filter(
    (a) => !before.allocations.some((b) => b.id === a.id),
  );
  for (const alloc of placed) {
    const node = before.nodes.find((n) => n.id === alloc.nodeId)!;
    expect(node.status).toBe('up');
    for (const c of job.constraints) expect(constraintHolds(node, c, new Map())).toBe(true);
    for (const v of job.volumes) expect(node.volumes).toContain(v);
  }
}

/** No node over-committed, no host port held twice or reserved, on any node. */
function checkInvariants(h: SchedHarness): void {
  for (const node of h.snapshot.nodes) {
    const live = h.snapshot.allocations.filter(
      (a) => a.nodeId === node.id && a.desiredStatus === 'run' && a.clientStatus !== 'complete',
    );
    expect(live.reduce((s, a) => s + a.resources.cpuMhz, 0)).toBeLessThanOrEqual(
      node.resources.cpuMhz,
    );
    expect(live.reduce((s, a) => s + a.resources.memoryMb, 0)).toBeLessThanOrEqual(
      node.resources.memoryMb,
    );
    const ports = live.flatMap((a) => Object.values(a.ports));
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) expect(node.reservedPorts ?? []).not.toContain(p);
  }
}

describe('scheduler invariants on random clusters', () => {
  test(
    'no over-commit, no port clash, constraints and volume pins hold, through failures and updates',
    () => {
      // Proves the safety invariants for any cluster, job mix, node loss, drain and rollout fast-check finds.
      fc.assert(
        fc.property(clusterArb, (c) => {
          const h = new SchedHarness(buildNodes(c), c.seed);
          const jobs = buildJobs(c);
          for (const job of jobs) h.upsertJob(job);
          for (const job of jobs) evaluateChecked(h, job.id);
          checkInvariants(h);
          if (c.nodes.length > 0) {
            h.setNode(`n${String(c.downNode % c.nodes.length).padStart(2, '0')}`, {
              status: 'down',
            });
            h.setNode(`n${String(c.drainNode % c.nodes.length).padStart(2, '0')}`, {
              status: 'draining',
            });
          }
          for (const job of jobs) h.markHealthy(job.id);
          for (const job of jobs) evaluateChecked(h, job.id);
          checkInvariants(h);
          // A new version of every job: destructive for some (image, size), in place for others.
          jobs.forEach((job, i) => {
            const resized = c.jobs[i]!.resize
              ? { cpuMhz: job.resources.cpuMhz + 100, memoryMb: job.resources.memoryMb }
              : job.resources;
            h.upsertJob({
              ...job,
              version: 2,
              resources: resized,
              task: { image: c.jobs[i]!.newImage ? 'v2' : 'v1' },
            });
          });
          for (let round = 0; round < 2; round++) {
            for (const job of jobs) h.markHealthy(job.id);
            for (const job of jobs) evaluateChecked(h, job.id);
            checkInvariants(h);
          }
        }),
        { numRuns },
      );
    },
    testTimeoutMs,
  );

  test(
    'every job reaches its count whenever the capacity exists',
    () => {
      // Proves liveness: with uniform slots and total demand within capacity, nothing stays unplaced.
      const capacityArb = fc
        .record({
          nodes: fc.integer({ min: 1, max: 20 }),
          slotsPerNode: fc.integer({ min: 1, max: 8 }),
          shares: fc.array(fc.nat({ max: 100 }), { minLength: 1, maxLength: 8 }),
          spread: fc.boolean(),
          dynamicPorts: fc.integer({ min: 0, max: 3 }),
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
        })
        .map((c) => {
          const capacity = c.nodes * c.slotsPerNode;
          const total = c.shares.reduce((s, x) => s + x, 0) || 1;
          return { ...c, counts: c.shares.map((x) => Math.floor((x / total) * capacity)) };
        });
      fc.assert(
        fc.property(capacityArb, (c) => {
          const nodes = Array.from({ length: c.nodes }, (_, i) =>
            makeNode(`n${String(i).padStart(2, '0')}`, {
              resources: { cpuMhz: 250 * c.slotsPerNode, memoryMb: 300 * c.slotsPerNode },
            }),
          );
          const h = new SchedHarness(nodes, c.seed);
          c.counts.forEach((count, i) => {
            const ports = Array.from({ length: c.dynamicPorts }, (_, k) => ({ label: `p${k}` }));
            h.upsertJob(
              makeJob(`job${i}`, {
                count,
                spread: c.spread,
                ports,
                resources: { cpuMhz: 250, memoryMb: 300 },
              }),
            );
          });
          c.counts.forEach((count, i) => {
            const { plan } = h.evaluate(`job${i}`);
            expect(plan.blocked).toBeUndefined();
            expect(h.live(`job${i}`).length).toBe(count);
          });
          checkInvariants(h);
        }),
        { numRuns },
      );
    },
    testTimeoutMs,
  );
});
