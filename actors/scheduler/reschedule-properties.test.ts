/**
 * Property test of the reschedule policy (fast-check): random policies and random runs of
 * failures, health reports and time steps, evaluated through the harness. It checks the
 * policy's promises against the history the run produced, with plain arithmetic.
 * `SCHED_PROPERTY_RUNS` raises the number of runs for a longer soak.
 */
import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { makeJob, makeNode, SchedHarness } from './test-harness.ts';
import type { ReschedulePolicy } from './types.ts';

const numRuns = Number(process.env.SCHED_PROPERTY_RUNS ?? 60);
/** Generous per-run allowance so a long soak is not cut off; never a timing assertion. */
const testTimeoutMs = 10_000 + numRuns * 100;

const policyArb: fc.Arbitrary<ReschedulePolicy> = fc
  .record({
    attempts: fc.integer({ min: 0, max: 3 }),
    intervalMs: fc.constantFrom(0, 60_000, 600_000),
    delayMs: fc.constantFrom(0, 1_000, 30_000),
    capFactor: fc.constantFrom(1, 4, 100),
    unlimited: fc.boolean(),
  })
  .map(({ capFactor, ...p }) => ({ ...p, maxDelayMs: p.delayMs * capFactor }));

const stepArb = fc.oneof(
  fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('healthy' as const) }),
  fc.record({
    kind: fc.constant('advance' as const),
    ms: fc.constantFrom(500, 999, 1_000, 5_000, 15_000, 29_999, 30_000, 61_000),
  }),
);

const caseArb = fc.record({
  policy: policyArb,
  count: fc.integer({ min: 1, max: 4 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 40 }),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
});

/** One replacement of a failed allocation: its slot, when it failed, when it was replaced. */
interface Reschedule {
  index: number;
  failedAtMs: number;
  atMs: number;
}

describe('reschedule policy on random runs', () => {
  test(
    'never early, never beyond attempts, one live allocation per slot, and no slot left waiting',
    () => {
      // Proves delay, attempts and slot safety for any policy and failure sequence fast-check finds.
      fc.assert(
        fc.property(caseArb, (c) => {
          const h = new SchedHarness([makeNode('n1'), makeNode('n2'), makeNode('n3')], c.seed);
          h.upsertJob(makeJob('web', { count: c.count, reschedule: c.policy }));
          h.nowMs = 1_000;
          const done: Reschedule[] = [];
          const evaluate = () => {
            const { applied } = h.evaluate('web', 'alloc-failure');
            for (const stop of applied.committed.stop) {
              const old = h.snapshot.allocations.find((a) => a.id === stop.id)!;
              if (stop.reason !== 'alloc_failed') continue;
              const failedAtMs = failedAt.get(old.id)!;
              done.push({ index: old.index, failedAtMs, atMs: h.nowMs });
            }
            checkSlots(h, c.count);
          };
          const failedAt = new Map<string, number>();
          evaluate();
          for (const step of c.steps) {
            if (step.kind === 'advance') h.nowMs += step.ms;
            if (step.kind === 'healthy') h.markHealthy('web');
            if (step.kind === 'fail') {
              const live = h.live('web');
              const victim = live[step.pick % Math.max(1, live.length)];
              if (victim) {
                h.setStatus(victim.id, 'failed');
                failedAt.set(victim.id, h.nowMs);
              }
            }
            evaluate();
          }
          checkHistory(c.policy, done);
          // Long after every delay: each slot is filled, or held for good by spent attempts.
          h.nowMs += c.policy.maxDelayMs + 1;
          const final = h.evaluate('web', 'periodic').plan;
          expect((final.held ?? []).every((x) => x.reason === 'reschedule_exhausted')).toBe(true);
          if (c.policy.unlimited) expect(final.held).toBeUndefined();
          const held = new Set((final.held ?? []).map((x) => x.index));
          const filled = new Set(h.live('web').map((a) => a.index));
          for (let i = 0; i < c.count; i++) expect(filled.has(i) || held.has(i)).toBe(true);
        }),
        { numRuns },
      );
    },
    testTimeoutMs,
  );
});

/** At most one live allocation per slot, never one beyond the count. */
function checkSlots(h: SchedHarness, count: number): void {
  const indexes = h.live('web').map((a) => a.index);
  expect(new Set(indexes).size).toBe(indexes.length);
  for (const i of indexes) expect(i).toBeLessThan(count);
}

/**
 * Each reschedule waited at least its delay — `delayMs` doubled per earlier reschedule of
 * the slot within the window (intervalMs, or maxDelayMs without one), capped — and, when
 * limited, fit within the attempts budget counted over intervalMs (or all history).
 */
function checkHistory(policy: ReschedulePolicy, done: readonly Reschedule[]): void {
  for (const [n, r] of done.entries()) {
    const slot = done.slice(0, n).filter((e) => e.index === r.index);
    const within = (windowMs: number) =>
      slot.filter((e) => windowMs <= 0 || r.failedAtMs - e.atMs <= windowMs).length;
    const doublings = within(policy.intervalMs > 0 ? policy.intervalMs : policy.maxDelayMs);
    const delayMs = Math.min(policy.maxDelayMs, policy.delayMs * 2 ** doublings);
    expect(r.atMs - r.failedAtMs).toBeGreaterThanOrEqual(delayMs);
    if (!policy.unlimited) expect(within(policy.intervalMs)).toBeLessThan(policy.attempts);
  }
}
