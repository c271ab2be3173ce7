import { readdirSync, readFileSync } from 'node:fs';

/**
 * Reading Linux /proc. A pid alone does not identify a process (pids are reused), so an
 * exec task is identified by its pid *and* its start time in clock ticks since boot
 * (field 22 of /proc/<pid>/stat), which no later process with the same pid can share.
 */
export interface ProcStat {
  /** R, S, D, Z (zombie), T, … */
  state: string;
  pgrp: number;
  utimeTicks: number;
  stimeTicks: number;
  startTicks: number;
  rssPages: number;
}

/** Kernel clock ticks per second for /proc times; 100 on every mainstream Linux build. */
export const clockTicksPerSecond = 100;
/** Page size for /proc rss; 4 KiB on x86-64 and the usual arm64 kernels. */
export const pageBytes = 4096;

/** Parses /proc/<pid>/stat; undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

/** Parses the text of a stat file. The command name may hold spaces and ')', so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after the name, so index 0 here is field 3 (state) of proc(5).
  const fields = text.slice(close + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  const state = fields[0];
  if (!state || fields.length < 22) return undefined;
  return {
    state,
    pgrp: field(5),
    utimeTicks: field(14),
    stimeTicks: field(15),
    startTicks: field(22),
    rssPages: field(24),
  };
}

/** True when `pid` is alive (not a zombie) and is the process that started at `startTicks`. */
export function isSameLiveProcess(pid: number, startTicks: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTicks === startTicks;
}

/** Live members of process group `pgid`, at most `processesMax` of them. */
export function processGroupMembers(pgid: number, processesMax: number): ProcStat[] {
  const members: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (members.length >= processesMax) break;
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') members.push(stat);
  }
  return members;
}
