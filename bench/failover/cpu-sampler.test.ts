import { expect, test } from 'bun:test';
import { type CpuSample, CpuSampler, cpuBetween } from './cpu-sampler.ts';

const sample = (
  wallMs: number,
  busy: number,
  idle: number,
  procs: CpuSample['procs'],
): CpuSample => ({ wallMs, totalTicks: busy + idle, idleTicks: idle, iowaitTicks: 0, procs });

test('CPU shares come from sample pairs inside the window, and a restarted process starts afresh', () => {
  // Proves machine busy is busy/total jiffies, a process share is its ticks over wall time (100 ticks/s), and a pid change drops that pair.
  const samples = [
    sample(0, 0, 0, { n1: { pid: 10, ticks: 0 }, n2: { pid: 20, ticks: 0 } }),
    sample(1_000, 150, 50, { n1: { pid: 10, ticks: 100 }, n2: { pid: 20, ticks: 10 } }),
    sample(2_000, 300, 100, { n1: { pid: 11, ticks: 5 }, n2: { pid: 20, ticks: 20 } }),
    sample(3_000, 350, 250, { n1: { pid: 11, ticks: 55 }, n2: { pid: 20, ticks: 30 } }),
  ];
  const all = cpuBetween(samples, 0, 3_000);
  // Busy 350 of 600 jiffies; n1: 100 ticks over the first second, 50 over the third (its restart pair dropped).
  expect(all).toEqual({
    machineBusyPercent: 58,
    iowaitPercent: 0,
    procPercent: { n1: 75, n2: 10 },
  });
  expect(cpuBetween(samples, 2_000, 3_000)?.procPercent).toEqual({ n1: 50, n2: 10 });
  expect(cpuBetween(samples, 5_000, 6_000)).toBeNull();
});

test('the sampler reads this process and the machine from /proc', async () => {
  // Proves the sampler records the machine's jiffies and a live pid's CPU ticks, labelled as asked.
  const sampler = new CpuSampler();
  sampler.start(() => ({ self: process.pid }), 20);
  // Bounded wait for two samples with the machine's jiffies moved on (slow on a loaded machine).
  const deadline = performance.now() + 5_000;
  const moved = () =>
    sampler.samples.length >= 2 &&
    sampler.samples.at(-1)!.totalTicks > sampler.samples[0]!.totalTicks;
  while (!moved() && performance.now() < deadline) await Bun.sleep(10);
  sampler.stop();
  expect(sampler.samples.length).toBeGreaterThanOrEqual(2);
  expect(sampler.samples.every((s) => s.procs.self?.pid === process.pid)).toBe(true);
  expect(sampler.samples.at(-1)!.totalTicks).toBeGreaterThan(sampler.samples[0]!.totalTicks);
});
