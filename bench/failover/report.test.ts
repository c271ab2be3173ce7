import { expect, test } from 'bun:test';
import { formatRows, measureRows, ratios, svgChart } from './report.ts';
import type { TrialFigures } from './trial.ts';

function trial(
  scenario: TrialFigures['scenario'],
  leaderMs: number,
  movedMs: number | null,
): TrialFigures {
  return {
    scenario,
    leaderMs,
    writeUnavailableMs: leaderMs + 10,
    writesFailed: 0,
    writesTotal: 100,
    httpFailed: movedMs === null ? null : 1,
    httpTotal: movedMs === null ? null : 50,
    allocationsMovedMs: movedMs,
    recoveredMs: 5_000,
  };
}

test('the report groups figures by measure, scenario and system and compares Berth with etcd', () => {
  // Proves rows hold only the scenarios a measure applies to, targets are judged on p99, and ratios divide Berth by etcd.
  const results = {
    berth: [
      trial('kill-leader', 300, 6_000),
      trial('kill-leader', 500, 4_000),
      trial('kill-replica-node', 50, 4_500),
    ],
    'etcd-default': [trial('kill-leader', 1_000, null)],
  };
  const rows = measureRows(results);
  const leader = rows.filter((r) => r.measure === 'leader failover');
  // kill-replica-node is not a leader failover: no row for it.
  expect(leader.map((r) => `${r.scenario}/${r.system}`)).toEqual([
    'kill-leader/berth',
    'kill-leader/etcd-default',
  ]);
  expect(leader[0]?.summary).toMatchObject({ n: 2, p50: 300, p99: 500 });
  const moved = rows.find(
    (r) => r.measure === 'allocations healthy elsewhere' && r.scenario === 'kill-leader',
  );
  expect(moved?.summary.p99).toBe(6_000);
  expect(formatRows(rows)).toContain('≤ 5000 MISSED');
  const ratio = ratios(rows).find(
    (r) => r.measure === 'leader failover' && r.versus === 'etcd-default',
  );
  expect(ratio).toMatchObject({ p50: 0.3, p99: 0.5 });
  const svg = svgChart(rows, 'a & b');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('a &amp; b');
  // One p50 bar and one p99 bar per timing row (the count rows are not drawn).
  const timingRows = rows.filter((r) => !r.measure.includes('count')).length;
  expect(svg.match(/<rect /g)?.length).toBe(2 * timingRows);
});
