/**
 * Where the CPU went during a trial: the machine's busy and iowait shares (/proc/stat)
 * and each agent's own CPU time (/proc/<pid>/stat), sampled every `intervalMs`. It tells
 * a router that is slow because its own process is busy (near 100% of a core) from one
 * that is starved by everything else on the machine, or waiting on the disk.
 */
import { readFileSync } from 'node:fs';
import { clockTicksPerSecond, readProcStat } from '../../src/drivers/exec/proc.ts';

/** Samples kept (a bound: at 250 ms, more than an hour). */
const cpuSamplesMax = 20_000;

export interface CpuSample {
  wallMs: number;
  /** Machine-wide jiffies: all, idle, iowait (summed over every CPU). */
  totalTicks: number;
  idleTicks: number;
  iowaitTicks: number;
  /** Per label (e.g. `n2`): the pid sampled and its user + system ticks. */
  procs: Record<string, { pid: number; ticks: number }>;
}

/** CPU shares over a window: machine busy and iowait (% of all CPUs), each process (% of one core). */
export interface CpuShares {
  machineBusyPercent: number;
  iowaitPercent: number;
  procPercent: Record<string, number>;
}

/** Reads /proc/stat's first line: `cpu user nice system idle iowait irq softirq steal …`. */
function readMachineTicks(): { totalTicks: number; idleTicks: number; iowaitTicks: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const totalTicks = fields.reduce((a, b) => a + b, 0);
  return { totalTicks, idleTicks: fields[3] ?? 0, iowaitTicks: fields[4] ?? 0 };
}

export class CpuSampler {
  readonly samples: CpuSample[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Samples `pids()` (label → pid of the live process) every `intervalMs`. */
  start(pids: () => Record<string, number>, intervalMs: number): void {
    this.#timer = setInterval(() => {
      const procs: CpuSample['procs'] = {};
      for (const [label, pid] of Object.entries(pids())) {
        const stat = readProcStat(pid);
        if (stat) procs[label] = { pid, ticks: stat.utimeTicks + stat.stimeTicks };
      }
      if (this.samples.length >= cpuSamplesMax) this.samples.splice(0, cpuSamplesMax / 10);
      this.samples.push({ wallMs: Date.now(), ...readMachineTicks(), procs });
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Shares over [fromWallMs, toWallMs], from consecutive sample pairs that end inside it (a
 * process counts only over pairs where its pid did not change: a restart starts afresh).
 * Null when fewer than two samples cover the window.
 */
export function cpuBetween(
  samples: readonly CpuSample[],
  fromWallMs: number,
  toWallMs: number,
): CpuShares | null {
  let total = 0;
  let idle = 0;
  let iowait = 0;
  let elapsedMs = 0;
  const procTicks: Record<string, number> = {};
  const procMs: Record<string, number> = {};
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (b.wallMs <= fromWallMs || a.wallMs >= toWallMs) continue;
    total += b.totalTicks - a.totalTicks;
    idle += b.idleTicks - a.idleTicks;
    iowait += b.iowaitTicks - a.iowaitTicks;
    elapsedMs += b.wallMs - a.wallMs;
    for (const [label, now] of Object.entries(b.procs)) {
      const before = a.procs[label];
      if (!before || before.pid !== now.pid) continue;
      procTicks[label] = (procTicks[label] ?? 0) + now.ticks - before.ticks;
      procMs[label] = (procMs[label] ?? 0) + b.wallMs - a.wallMs;
    }
  }
  if (elapsedMs === 0 || total === 0) return null;
  const percent = (part: number, whole: number) => Math.round((100 * part) / whole);
  const procPercent: Record<string, number> = {};
  for (const [label, ticks] of Object.entries(procTicks)) {
    const ms = procMs[label] ?? 0;
    if (ms > 0) procPercent[label] = percent((ticks * 1000) / clockTicksPerSecond, ms);
  }
  return {
    machineBusyPercent: percent(total - idle - iowait, total),
    iowaitPercent: percent(iowait, total),
    procPercent,
  };
}
