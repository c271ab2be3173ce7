import type { Clock } from '../../core/clock.ts';
import { limits } from '../../core/limits.ts';
import type { TaskStats } from '../driver.ts';
import { clockTicksPerSecond, pageBytes, processGroupMembers } from './proc.ts';

/** Time between the two CPU samples, in ms: long enough to see a busy task, short for callers. */
const sampleWindowMs = 250;

/** CPU and resident memory of a task's whole process group, from two /proc samples. */
export async function sampleGroupStats(pgid: number, clock: Clock): Promise<TaskStats> {
  const first = groupTicks(pgid);
  const firstMs = clock.nowMs();
  await Bun.sleep(sampleWindowMs);
  const members = processGroupMembers(pgid, limits.execStatsProcessesMax);
  const second = members.reduce((sum, p) => sum + p.utimeTicks + p.stimeTicks, 0);
  const elapsedMs = Math.max(1, clock.nowMs() - firstMs);
  const cpuSeconds = Math.max(0, second - first) / clockTicksPerSecond;
  return {
    cpuPercent: (cpuSeconds / (elapsedMs / 1000)) * 100,
    memoryBytes: members.reduce((sum, p) => sum + p.rssPages * pageBytes, 0),
  };
}

function groupTicks(pgid: number): number {
  return processGroupMembers(pgid, limits.execStatsProcessesMax).reduce(
    (sum, p) => sum + p.utimeTicks + p.stimeTicks,
    0,
  );
}
