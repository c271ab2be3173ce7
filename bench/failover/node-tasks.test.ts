import { expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSameLiveProcess, readProcStat } from '../../src/drivers/exec/proc.ts';
import { writeRecord } from '../../src/drivers/exec/state-file.ts';
import { killExecTasks } from './node-tasks.ts';

function spawnGroupLeader() {
  // `detached` makes the child lead its own process group, as the exec driver's tasks do.
  return Bun.spawn(['sleep', '30'], { detached: true, stdio: ['ignore', 'ignore', 'ignore'] });
}

test("a node kill takes the node's exec tasks with it, and never a reused pid", async () => {
  // Proves a recorded live task is SIGKILLed, while a record whose start time does not match the live pid (a reused pid) and an exited record are left alone.
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-tasks-'));
  const dir = join(dataDir, 'exec');
  mkdirSync(dir);
  const task = spawnGroupLeader();
  const stranger = spawnGroupLeader();
  try {
    const record = (name: string, pid: number, startTicks: number, exitCode?: number) =>
      writeRecord(dir, {
        name,
        pid,
        startTicks,
        startedAtMs: 0,
        labels: {},
        hostAddress: '127.0.0.1',
        hostPorts: [],
        ...(exitCode === undefined ? {} : { exitCode }),
      });
    const ticksOf = (pid: number) => readProcStat(pid)?.startTicks ?? -1;
    record('berth-hello-a-0', task.pid, ticksOf(task.pid));
    record('berth-hello-b-0', stranger.pid, ticksOf(stranger.pid) + 1);
    record('berth-hello-c-0', stranger.pid, ticksOf(stranger.pid), 0);
    expect(killExecTasks(dataDir)).toEqual(['berth-hello-a-0']);
    await task.exited;
    expect(task.signalCode).toBe('SIGKILL');
    expect(isSameLiveProcess(stranger.pid, ticksOf(stranger.pid))).toBe(true);
    expect(killExecTasks(join(dataDir, 'missing'))).toEqual([]);
  } finally {
    task.kill('SIGKILL');
    stranger.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
