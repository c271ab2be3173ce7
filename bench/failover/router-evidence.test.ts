import { expect, test } from 'bun:test';
import { evidenceOf, routerLines, sumCounter } from './router-evidence.ts';

test("a failed request is found in its router's log by its unique path", () => {
  // Proves only the router's request lines for the asked paths are taken, and the pick-up delay is the router's start minus the client's send time.
  const log = [
    '{"ts":1000,"level":"info","msg":"agent started","node":1}',
    'berth agent: node 1 (n1) serving https://127.0.0.1:1',
    '{"ts":2500,"level":"info","msg":"request","actor":"router","path":"/?bench=n1.7","status":502,"durationMs":120.4}',
    '{"ts":2600,"level":"info","msg":"request","actor":"router","path":"/?bench=n1.8","status":200,"alloc":"a-0","durationMs":10}',
    '{"ts":2700,"level":"info","msg":"request","actor":"router","path":"/?bench=n1.70","status":200,"alloc":"a-1","durationMs":1}',
    '{"ts":2800,"level":"info","msg":"request","actor":"router","path":"/?bench=n1.9"', // cut off by a kill
  ].join('\n');
  const lines = routerLines(log, new Set(['/?bench=n1.7', '/?bench=n1.9', '/?bench=n2.1']));
  expect([...lines.keys()]).toEqual(['/?bench=n1.7']);
  const evidence = evidenceOf(lines.get('/?bench=n1.7')!, 1_300);
  // Started at 2500 - 120.4 = 2379.6, sent at 1300: it waited about 1080 ms to be handled.
  expect(evidence).toEqual({ status: 502, alloc: null, routerMs: 120, pickupDelayMs: 1080 });
  expect(routerLines(log, new Set()).size).toBe(0);
});

test('router counters are summed from the metrics text, by label', () => {
  // Proves every series of the named counter is summed (by a label when asked) and other metrics sharing its prefix are ignored.
  const text = [
    '# HELP berth_router_retries_total Requests retried.',
    '# TYPE berth_router_retries_total counter',
    'berth_router_retries_total{route="hello hello.localhost/"} 3',
    'berth_router_retries_total{route="web *"} 2',
    'berth_router_retries_total_extra 100',
    'berth_router_upstream_errors_total{route="hello hello.localhost/",kind="connect"} 4',
    'berth_router_upstream_errors_total{kind="reset",route="web *"} 1',
  ].join('\n');
  expect(sumCounter(text, 'berth_router_retries_total')).toEqual({ '': 5 });
  expect(sumCounter(text, 'berth_router_upstream_errors_total', 'kind')).toEqual({
    connect: 4,
    reset: 1,
  });
  expect(sumCounter(text, 'berth_nothing_total')).toEqual({});
});
