import { describe, expect, test } from 'bun:test';
import { AssertionError } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import { escapeLabelValue, formatNumber, MetricsRegistry } from './registry.ts';

describe('MetricsRegistry', () => {
  test('counters and gauges expose HELP, TYPE and one line per label set', () => {
    // Proves the 0.0.4 text layout for counters and gauges, with and without labels.
    const registry = new MetricsRegistry();
    const requests = registry.counter('http_requests_total', 'Requests served.', ['code']);
    const up = registry.gauge('up_flag', 'One when up.');
    requests.inc({ code: '200' });
    requests.inc({ code: '200' }, 2);
    requests.inc({ code: '500' });
    up.set(undefined, 1);
    const text = registry.expose();
    expect(text).toContain('# HELP http_requests_total Requests served.\n');
    expect(text).toContain('# TYPE http_requests_total counter\n');
    expect(text).toContain('http_requests_total{code="200"} 3\n');
    expect(text).toContain('http_requests_total{code="500"} 1\n');
    expect(text).toContain('# TYPE up_flag gauge\nup_flag 1\n');
    expect(text.endsWith('\n')).toBe(true);
  });

  test('histograms write cumulative buckets, +Inf, sum and count', () => {
    // Proves bucket placement (le is inclusive), cumulation and the _sum/_count lines.
    const registry = new MetricsRegistry();
    const latency = registry.histogram('lat_seconds', 'Latency.', ['route'], [0.1, 1]);
    latency.observe({ route: '/a' }, 0.1);
    latency.observe({ route: '/a' }, 0.5);
    latency.observe({ route: '/a' }, 3);
    const text = registry.expose();
    expect(text).toContain('lat_seconds_bucket{route="/a",le="0.1"} 1\n');
    expect(text).toContain('lat_seconds_bucket{route="/a",le="1"} 2\n');
    expect(text).toContain('lat_seconds_bucket{route="/a",le="+Inf"} 3\n');
    expect(text).toContain('lat_seconds_sum{route="/a"} 3.6\n');
    expect(text).toContain('lat_seconds_count{route="/a"} 3\n');
  });

  test('label values and help text are escaped', () => {
    // Proves backslash, quote and newline escaping so a hostile value cannot break a line.
    const registry = new MetricsRegistry();
    const c = registry.counter('esc_total', 'Line one\nback\\slash "quoted"', ['v']);
    c.inc({ v: 'a"b\\c\nd' });
    const text = registry.expose();
    expect(text).toContain('# HELP esc_total Line one\\nback\\\\slash "quoted"\n');
    expect(text).toContain('esc_total{v="a\\"b\\\\c\\nd"} 1\n');
    expect(escapeLabelValue('plain')).toBe('plain');
    expect(formatNumber(Number.POSITIVE_INFINITY)).toBe('+Inf');
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });

  test('label sets beyond the limit are dropped and counted', () => {
    // Proves the series bound: new sets past metricLabelSetsMax are not stored but counted.
    const registry = new MetricsRegistry();
    const c = registry.counter('many_total', 'Many.', ['id']);
    for (let i = 0; i < limits.metricLabelSetsMax + 5; i++) c.inc({ id: String(i) });
    c.inc({ id: '0' });
    const text = registry.expose();
    const seriesLines = text.split('\n').filter((l) => l.startsWith('many_total{'));
    expect(seriesLines.length).toBe(limits.metricLabelSetsMax);
    expect(text).toContain('many_total{id="0"} 2\n');
    expect(text).toContain('berth_metrics_series_dropped_total{metric="many_total"} 5\n');
  });

  test('programming errors are assertions', () => {
    // Proves bad names, duplicate families, missing labels and falling counters are bugs.
    const registry = new MetricsRegistry();
    expect(() => registry.counter('bad-name', 'x')).toThrow(AssertionError);
    registry.counter('dup_total', 'x');
    expect(() => registry.counter('dup_total', 'x')).toThrow(AssertionError);
    const c = registry.counter('lab_total', 'x', ['a']);
    expect(() => c.inc({})).toThrow(AssertionError);
    expect(() => c.inc({ a: '1', b: '2' })).toThrow(AssertionError);
    expect(() => c.inc({ a: '1' }, -1)).toThrow(AssertionError);
    expect(() => registry.histogram('h', 'x', [], [1, 1])).toThrow(AssertionError);
  });

  test('collectors refresh values before each exposition', () => {
    // Proves onCollect runs at scrape time, so live values (the Raft term) are current.
    const registry = new MetricsRegistry();
    const term = registry.gauge('term', 'Term.');
    let current = 1;
    registry.onCollect(() => term.set(undefined, current));
    expect(registry.expose()).toContain('term 1\n');
    current = 7;
    expect(registry.expose()).toContain('term 7\n');
  });
});
