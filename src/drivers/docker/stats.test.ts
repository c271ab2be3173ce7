import { expect, test } from 'bun:test';
import { cpuPercentOf, memoryBytesOf } from './stats.ts';

test('cpu percent is the container share of system time times online CPUs', () => {
  // Proves the `docker stats` formula: 100 means one full core.
  const stats = {
    cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 4 },
    precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 12_000 },
    memory_stats: { usage: 10_000, stats: { inactive_file: 4_000 } },
  };
  expect(cpuPercentOf(stats)).toBe(100);
  expect(memoryBytesOf(stats)).toBe(6_000);
});

test('a first sample without a previous one reports zero CPU', () => {
  // Proves no division by a missing baseline.
  const stats = {
    cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 4 },
    precpu_stats: { cpu_usage: { total_usage: 0 } },
    memory_stats: { usage: 5 },
  };
  expect(cpuPercentOf(stats)).toBe(0);
  expect(memoryBytesOf(stats)).toBe(5);
});
