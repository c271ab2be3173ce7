/**
 * A tiny Prometheus registry: counters, gauges and fixed-bucket histograms, exposed in the
 * text format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Every metric family holds at most `limits.metricLabelSetsMax` label sets. A label value
 * taken from outside (a route, a job name) could otherwise grow memory and the scrape
 * without bound; a new set beyond the limit is dropped and counted in
 * `berth_metrics_series_dropped_total{metric=…}`, so the loss is visible, not silent.
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';

/** Label values keyed by label name; every declared label must be present. */
export type Labels = Readonly<Record<string, string>>;

/** The Content-Type of the exposition this registry writes. */
export const exposition004ContentType = 'text/plain; version=0.0.4; charset=utf-8';

/** Default latency buckets, in seconds (Prometheus client defaults). */
export const defaultLatencyBucketsSeconds: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Kind = 'counter' | 'gauge' | 'histogram';

interface Series {
  labels: readonly string[];
  value: number;
  /** Histograms only: cumulative-ready per-bucket counts (not cumulative yet) and sum. */
  bucketCounts?: number[];
  sum?: number;
}

/** One metric family: name, help, label names and its bounded set of series. */
class Family {
  readonly series = new Map<string, Series>();

  constructor(
    readonly kind: Kind,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly bucketsUpper: readonly number[],
    readonly onDrop: (family: string) => void,
  ) {}

  /** The series for `labels`, created on first use; undefined when the family is full. */
  seriesFor(labels: Labels | undefined): Series | undefined {
    // Hot path (the router records every request): one join for the key, and the
    // assertion messages are only built when an assertion fails.
    const values: string[] = [];
    for (const name of this.labelNames) {
      const value = labels?.[name];
      if (typeof value !== 'string') assert(false, `${this.name}: label ${name} is missing`);
      values.push(value);
    }
    if (Object.keys(labels ?? {}).length !== this.labelNames.length) {
      assert(false, `${this.name}: unexpected labels ${JSON.stringify(labels)}`);
    }
    // Length-prefixed, so no two label sets share a key whatever their values hold.
    let key = '';
    for (const value of values) key += `${value.length}:${value}`;
    const found = this.series.get(key);
    if (found) return found;
    if (this.series.size >= limits.metricLabelSetsMax) {
      this.onDrop(this.name);
      return undefined;
    }
    const created: Series = { labels: values, value: 0 };
    if (this.kind === 'histogram') {
      created.bucketCounts = this.bucketsUpper.map(() => 0);
      created.sum = 0;
    }
    this.series.set(key, created);
    return created;
  }
}

/** A monotonically increasing count. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

/** A value that goes up and down. */
export interface Gauge {
  set(labels: Labels | undefined, value: number): void;
  inc(labels?: Labels, by?: number): void;
}

/** Observations counted into fixed buckets, with their sum and count. */
export interface Histogram {
  observe(labels: Labels | undefined, value: number): void;
}

/** A set of metric families and the callbacks that refresh gauges before a scrape. */
export class MetricsRegistry {
  readonly #families = new Map<string, Family>();
  readonly #collectors: Array<() => void> = [];
  readonly #dropped: Counter;

  constructor() {
    this.#dropped = this.counter(
      'berth_metrics_series_dropped_total',
      'Label sets dropped because their metric already held metricLabelSetsMax series.',
      ['metric'],
    );
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const family = this.#register('counter', name, help, labelNames, []);
    return {
      inc: (labels, by = 1) => {
        assert(by >= 0 && Number.isFinite(by), `${name}: a counter only goes up`);
        const series = family.seriesFor(labels);
        if (series) series.value += by;
      },
    };
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const family = this.#register('gauge', name, help, labelNames, []);
    return {
      set: (labels, value) => {
        const series = family.seriesFor(labels);
        if (series) series.value = value;
      },
      inc: (labels, by = 1) => {
        const series = family.seriesFor(labels);
        if (series) series.value += by;
      },
    };
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    bucketsUpper: readonly number[] = defaultLatencyBucketsSeconds,
  ): Histogram {
    assert(bucketsUpper.length >= 1, `${name}: a histogram needs buckets`);
    assert(bucketsUpper.length <= limits.metricBucketsMax, `${name}: too many buckets`);
    for (let i = 0; i < bucketsUpper.length; i++) {
      const upper = bucketsUpper[i]!;
      assert(Number.isFinite(upper), `${name}: bucket bounds are finite (+Inf is implicit)`);
      assert(i === 0 || upper > bucketsUpper[i - 1]!, `${name}: buckets must increase`);
    }
    assert(!labelNames.includes('le'), `${name}: 'le' is reserved in histograms`);
    const family = this.#register('histogram', name, help, labelNames, bucketsUpper);
    return {
      observe: (labels, value) => {
        const series = family.seriesFor(labels);
        if (!series) return;
        const bucket = bucketsUpper.findIndex((upper) => value <= upper);
        if (bucket >= 0) series.bucketCounts![bucket]! += 1;
        series.sum! += value;
        series.value += 1;
      },
    };
  }

  /** Runs `fn` before every exposition (to copy live values such as the Raft term into gauges). */
  onCollect(fn: () => void): void {
    assert(this.#collectors.length < limits.metricCollectorsMax, 'too many metric collectors');
    this.#collectors.push(fn);
  }

  /** The whole registry in text format 0.0.4, families in registration order. */
  expose(): string {
    for (const collect of this.#collectors) collect();
    const lines: string[] = [];
    for (const family of this.#families.values()) writeFamily(family, lines);
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }

  #register(
    kind: Kind,
    name: string,
    help: string,
    labelNames: readonly string[],
    bucketsUpper: readonly number[],
  ): Family {
    assert(metricNamePattern.test(name), `invalid metric name ${name}`);
    assert(!this.#families.has(name), `metric ${name} is registered twice`);
    assert(this.#families.size < limits.metricFamiliesMax, 'too many metric families');
    for (const label of labelNames) {
      assert(labelNamePattern.test(label) && !label.startsWith('__'), `invalid label ${label}`);
    }
    assert(new Set(labelNames).size === labelNames.length, `${name}: duplicate label names`);
    const family = new Family(kind, name, help, labelNames, bucketsUpper, (metric) =>
      this.#dropped.inc({ metric }),
    );
    this.#families.set(name, family);
    return family;
  }
}

function writeFamily(family: Family, lines: string[]): void {
  lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
  lines.push(`# TYPE ${family.name} ${family.kind}`);
  for (const series of family.series.values()) {
    const pairs = family.labelNames.map((name, i) => [name, series.labels[i]!] as const);
    if (family.kind !== 'histogram') {
      lines.push(`${family.name}${labelText(pairs)} ${formatNumber(series.value)}`);
      continue;
    }
    let cumulative = 0;
    family.bucketsUpper.forEach((upper, i) => {
      cumulative += series.bucketCounts![i]!;
      const le = [...pairs, ['le', formatNumber(upper)] as const];
      lines.push(`${family.name}_bucket${labelText(le)} ${cumulative}`);
    });
    lines.push(`${family.name}_bucket${labelText([...pairs, ['le', '+Inf']])} ${series.value}`);
    lines.push(`${family.name}_sum${labelText(pairs)} ${formatNumber(series.sum!)}`);
    lines.push(`${family.name}_count${labelText(pairs)} ${series.value}`);
  }
}

function labelText(pairs: ReadonlyArray<readonly [string, string]>): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Sample values as Prometheus parses them: `+Inf`, `-Inf`, `NaN`, or a Go-parsable float. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
