import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * What the exec driver remembers about a task on disk, so a restarted agent can adopt it.
 * It never holds the task's environment: secrets stay in the process only.
 */
export const ExecTaskRecordSchema = z.object({
  name: z.string(),
  pid: z.number().int().positive(),
  /** /proc start time of `pid`, in clock ticks since boot: proves the pid was not reused. */
  startTicks: z.number().int().nonnegative(),
  startedAtMs: z.number(),
  labels: z.record(z.string(), z.string()),
  hostAddress: z.string(),
  hostPorts: z.array(z.number().int()),
  exitCode: z.number().int().optional(),
});
export type ExecTaskRecord = z.infer<typeof ExecTaskRecordSchema>;

export const stateFileSuffix = '.task.json';

export function statePath(dir: string, name: string): string {
  return join(dir, `${name}${stateFileSuffix}`);
}

/** Writes atomically: temp file, fsync, rename — a crash leaves the old or the new record. */
export function writeRecord(dir: string, record: ExecTaskRecord): void {
  const path = statePath(dir, record.name);
  const temp = `${path}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(record));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/** Reads and validates one record; undefined when absent or unreadable. */
export function readRecord(dir: string, name: string): ExecTaskRecord | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(dir, name), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = ExecTaskRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Names of the tasks with a state file, at most `namesMax`. */
export function listRecordNames(dir: string, namesMax: number): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (names.length >= namesMax) break;
    if (entry.endsWith(stateFileSuffix)) names.push(entry.slice(0, -stateFileSuffix.length));
  }
  return names.sort();
}
