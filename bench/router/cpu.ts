/**
 * CPU time of processes under benchmark, in ms: this process (Berth's router runs in it)
 * and a child process with its own children (nginx's master and workers), read from
 * /proc. Per-request CPU time is what a proxy costs, and it varies far less with other
 * load on the machine than requests per second do.
 */
import { readFileSync } from 'node:fs';

/** Reads a process's CPU time so far, in ms. */
export type CpuClock = () => number;

const clockTicksPerSecond = Number(
  Bun.spawnSync(['getconf', 'CLK_TCK']).stdout.toString().trim() || '100',
);
/** Processes followed below one benchmarked process (nginx has a master and workers). */
const processTreeMax = 64;

/** User + system CPU of this process (all its threads), in ms. */
export const ownCpuMs: CpuClock = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** User + system CPU of `pid` and its descendants, in ms (0 once it is gone). */
export function processTreeCpuMs(pid: number): number {
  let totalMs = 0;
  const pending = [pid];
  for (let seen = 0; pending.length > 0 && seen < processTreeMax; seen++) {
    const next = pending.pop()!;
    totalMs += singleProcessCpuMs(next);
    pending.push(...childrenOf(next));
  }
  return totalMs;
}

function singleProcessCpuMs(pid: number): number {
  const stat = readOrEmpty(`/proc/${pid}/stat`);
  if (stat === '') return 0;
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicksPerSecond;
}

function childrenOf(pid: number): number[] {
  const text = readOrEmpty(`/proc/${pid}/task/${pid}/children`).trim();
  return text === '' ? [] : text.split(' ').map(Number);
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Busy and total jiffies of each CPU, from /proc/stat (empty when unreadable). */
export function cpuJiffies(): Array<{ busy: number; total: number }> {
  const lines = readOrEmpty('/proc/stat').split('\n');
  const out: Array<{ busy: number; total: number }> = [];
  for (const line of lines) {
    if (!/^cpu\d+ /.test(line)) continue;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((sum, v) => sum + v, 0);
    // idle and iowait are the 4th and 5th values.
    out.push({ busy: total - (values[3] ?? 0) - (values[4] ?? 0), total });
  }
  return out;
}

/** Percent busy per CPU between two `cpuJiffies` readings. */
export function busyPercents(
  before: Array<{ busy: number; total: number }>,
  after: Array<{ busy: number; total: number }>,
): number[] {
  return after.map((cpu, i) => {
    const prior = before[i];
    const total = prior ? cpu.total - prior.total : 0;
    return prior && total > 0 ? Math.round(((cpu.busy - prior.busy) / total) * 100) : 0;
  });
}
