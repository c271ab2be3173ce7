/** The exec driver (plain processes) against the shared task-driver contract. */

import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/core/errors.ts';
import type { TaskSpec } from '../../src/drivers/driver.ts';
import { ExecDriver } from '../../src/drivers/exec/driver.ts';
import { statePath } from '../../src/drivers/exec/state-file.ts';
import { runDriverContract } from './contract.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'berth-exec-driver-'));
const nodeId = 'exec-test-node';
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

runDriverContract('exec', async () => ({
  nodeId,
  base: {},
  newDriver: async (logger) => new ExecDriver({ nodeId, stateDir, logger }),
  httpServer: (hostPort) => ({
    command: [
      process.execPath,
      '-e',
      `Bun.serve({ hostname: '127.0.0.1', port: ${hostPort}, fetch: () => new Response('ok') })`,
    ],
    ports: { http: { host: hostPort, container: hostPort } },
  }),
  rawMetadata: async (handle) => readFileSync(statePath(stateDir, handle.id), 'utf8'),
}));

describe('exec driver specifics', () => {
  const spec = (overrides: Partial<TaskSpec>): TaskSpec => ({
    allocId: 'alloc-e',
    jobId: 'job-exec',
    jobVersion: 1,
    nodeId,
    name: `berth-exec-${crypto.randomUUID().slice(0, 8)}`,
    command: ['true'],
    env: {},
    secretEnv: {},
    ports: {},
    volumes: [],
    resources: { cpuMhz: 100, memoryMb: 32 },
    hostAddress: '127.0.0.1',
    ...overrides,
  });
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 'no error',
      (error) => (error instanceof BerthError ? error.code : String(error)),
    );

  test('refuses images, volumes and empty commands as invalid_task', async () => {
    // Proves the exec driver rejects specs it cannot honour instead of ignoring fields.
    const driver = new ExecDriver({ nodeId, stateDir });
    expect(await codeOf(driver.start(spec({ image: 'x' })))).toBe('invalid_task');
    expect(await codeOf(driver.start(spec({ command: [] })))).toBe('invalid_task');
    expect(await codeOf(driver.start(spec({ volumes: [{ name: 'v', target: '/v' }] })))).toBe(
      'invalid_task',
    );
    driver.close();
  });

  test('runs in the working directory with the given environment and port variables', async () => {
    // Proves cwd, env and the BERTH_PORT_* announcement reach the process.
    const driver = new ExecDriver({ nodeId, stateDir });
    const workdir = mkdtempSync(join(tmpdir(), 'berth-exec-cwd-'));
    const handle = await driver.start(
      spec({
        command: ['sh', '-c', 'echo "$(pwd) $GREETING $BERTH_PORT_WEB"'],
        workdir,
        env: { GREETING: 'hello' },
        ports: { web: { host: 45_678, container: 45_678 } },
      }),
    );
    const deadline = performance.now() + 10_000;
    let lines: string[] = [];
    while (lines.length === 0 && performance.now() < deadline) {
      await Bun.sleep(50);
      lines = [];
      for await (const l of driver.logs(handle, { follow: false })) lines.push(l.line);
    }
    expect(lines).toEqual([`${workdir} hello 45678`]);
    await driver.remove(handle);
    driver.close();
  });

  test('a recorded pid that now belongs to another process is not adopted as running', async () => {
    // Proves pid-reuse safety: the /proc start time must match the state file's.
    const driver = new ExecDriver({ nodeId, stateDir });
    const handle = await driver.start(spec({ command: ['sleep', '30'] }));
    const path = statePath(stateDir, handle.id);
    const record = JSON.parse(readFileSync(path, 'utf8'));
    // Point the record at this test process (alive, different start time): a reused pid.
    await Bun.write(
      path,
      JSON.stringify({ ...record, pid: process.pid, startTicks: record.startTicks + 1 }),
    );
    const restarted = new ExecDriver({ nodeId, stateDir });
    const status = await restarted.inspect(handle);
    expect(status.state).toBe('exited');
    expect((await restarted.list()).some((t) => t.handle.id === handle.id)).toBe(false);
    restarted.close();
    await Bun.write(path, JSON.stringify(record));
    await driver.remove(handle);
    driver.close();
  });
});
