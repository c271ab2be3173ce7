import { expect, test } from 'bun:test';
import {
  describeFailure,
  formatRows,
  measureRows,
  ratios,
  summarizeFailures,
  svgChart,
} from './report.ts';
import type { RoutedFailure, TrialFigures } from './trial.ts';

function trial(
  scenario: TrialFigures['scenario'],
  leaderMs: number,
  movedMs: number | null,
): TrialFigures {
  return {
    scenario,
    victim: 0,
    loadAverage1m: 1,
    leaderMs,
    writeUnavailableMs: leaderMs + 10,
    writesFailed: 0,
    writesTotal: 100,
    httpFailed: movedMs === null ? null : 1,
    httpTotal: movedMs === null ? null : 50,
    httpSlow: movedMs === null ? null : 0,
    httpFailures: null,
    allocationsMovedMs: movedMs,
    recoveredMs: 5_000,
    cpu: null,
    routers: null,
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

test('failed routed requests are grouped by router, kind and what the router logged', () => {
  // Proves failures of one class are counted together with their time span and medians, and a request the router never logged stays in its own class.
  const failure = (
    sentAfterFaultMs: number,
    router: RoutedFailure['router'],
    cpu: number | null,
  ): RoutedFailure => ({
    target: 'n2',
    path: `/?bench=n2.${sentAfterFaultMs}`,
    kind: 'timeout',
    error: 'TimeoutError',
    sentAtWallMs: 0,
    sentAfterFaultMs,
    durationMs: 10_000,
    router,
    routerAgentCpuPercent: cpu,
    machineBusyPercent: 100,
  });
  const logged = (pickupDelayMs: number) => ({
    status: 200,
    alloc: 'a-0',
    routerMs: 600,
    pickupDelayMs,
  });
  const lines = summarizeFailures([
    failure(120, logged(900), 30),
    failure(140, logged(1_100), 20),
    failure(160, logged(1_000), null),
    failure(180, null, 25),
  ]);
  expect(lines).toEqual([
    "3 × via n2: timeout; router logged 200; sent 120…160 ms after the fault; medians: pick-up 1000 ms, router 600 ms, router's agent cpu 30%, machine busy 100%",
    "1 × via n2: timeout; not in the router log; sent 180…180 ms after the fault; medians: pick-up –, router –, router's agent cpu 25%, machine busy 100%",
  ]);
  expect(describeFailure(failure(120, logged(900), 30))).toBe(
    'failed: /?bench=n2.120 sent 120 ms after the fault, timeout (TimeoutError) after 10000 ms; router logged 200 from a-0 after 600 ms, having picked it up 900 ms after it was sent',
  );
});
