import { describe, expect, test } from 'bun:test';
import { constraintHolds, type RegexCache, staticFailure } from './feasibility.ts';
import { makeJob, makeNode, SchedHarness } from './test-harness.ts';
import type { SchedConstraint } from './types.ts';

const node = makeNode('n1', {
  name: 'alpha',
  role: 'voter',
  labels: { zone: 'eu-1', disk: 'ssd' },
});

describe('constraint operators', () => {
  const cases: [SchedConstraint, boolean][] = [
    [{ attribute: 'zone', operator: '=', value: 'eu-1' }, true],
    [{ attribute: 'label.zone', operator: '=', value: 'eu-2' }, false],
    [{ attribute: 'gpu', operator: '=', value: 'yes' }, false],
    [{ attribute: 'node.name', operator: '=', value: 'alpha' }, true],
    [{ attribute: 'node.role', operator: '=', value: 'worker' }, false],
    [{ attribute: 'node.id', operator: '!=', value: 'n1' }, false],
    [{ attribute: 'zone', operator: '!=', value: 'eu-2' }, true],
    [{ attribute: 'gpu', operator: '!=', value: 'yes' }, true],
    [{ attribute: 'zone', operator: 'in', value: 'us-1, eu-1' }, true],
    [{ attribute: 'zone', operator: 'in', value: ['us-1', 'us-2'] }, false],
    [{ attribute: 'gpu', operator: 'in', value: ['yes'] }, false],
    [{ attribute: 'disk', operator: 'not_in', value: ['hdd', 'tape'] }, true],
    [{ attribute: 'disk', operator: 'not_in', value: 'ssd,hdd' }, false],
    [{ attribute: 'gpu', operator: 'not_in', value: ['yes'] }, true],
    [{ attribute: 'zone', operator: 'regex', value: '^eu-\\d$' }, true],
    [{ attribute: 'zone', operator: 'regex', value: '^us-' }, false],
    [{ attribute: 'zone', operator: 'regex', value: '([' }, false],
    [{ attribute: 'gpu', operator: 'regex', value: '.*' }, false],
  ];
  for (const [constraint, expected] of cases) {
    test(`${constraint.attribute} ${constraint.operator} ${String(constraint.value)} → ${expected}`, () => {
      // Proves one operator's semantics, including a missing attribute and a bad pattern.
      expect(constraintHolds(node, constraint, new Map())).toBe(expected);
    });
  }

  test('each operator steers compute to the matching nodes only', () => {
    // Proves constraints are applied by compute, not only by the helper.
    const nodes = [
      makeNode('a', { labels: { zone: 'eu-1' } }),
      makeNode('b', { labels: { zone: 'eu-2' } }),
      makeNode('c', { labels: { zone: 'us-1' } }),
    ];
    const placed = (constraint: SchedConstraint) => {
      const h = new SchedHarness(nodes);
      h.upsertJob(makeJob('web', { count: 3, constraints: [constraint] }));
      return [...new Set(h.evaluate('web').plan.place.map((p) => p.nodeId))].sort();
    };
    expect(placed({ attribute: 'zone', operator: '=', value: 'eu-2' })).toEqual(['b']);
    expect(placed({ attribute: 'zone', operator: '!=', value: 'eu-2' })).toEqual(['a', 'c']);
    expect(placed({ attribute: 'zone', operator: 'in', value: ['eu-1', 'us-1'] })).toEqual([
      'a',
      'c',
    ]);
    expect(placed({ attribute: 'zone', operator: 'not_in', value: ['eu-1', 'us-1'] })).toEqual([
      'b',
    ]);
    expect(placed({ attribute: 'zone', operator: 'regex', value: '^eu-' })).toEqual(['a', 'b']);
  });
});

test('static failures are named in filter order: status, constraints, volumes', () => {
  // Proves the stage a node fails at, which a blocked evaluation reports.
  const cache: RegexCache = new Map();
  const job = makeJob('db', {
    volumes: ['pg'],
    constraints: [{ attribute: 'zone', operator: '=', value: 'eu-1' }],
  });
  expect(staticFailure({ ...node, status: 'draining' }, job, cache)).toBe('node_status');
  expect(staticFailure({ ...node, labels: {} }, job, cache)).toBe('constraints');
  expect(staticFailure(node, job, cache)).toBe('volumes');
  expect(staticFailure({ ...node, volumes: ['pg'] }, job, cache)).toBeUndefined();
});
