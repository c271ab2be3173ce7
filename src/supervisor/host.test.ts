/**
 * The supervisor host against the real exec driver: real processes, real HTTP probes,
 * a real kill, and an agent restart (new host, new driver, same state directory).
 * Every wait is bounded; nothing asserts how long anything took.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredAllocation } from '../../actors/container-supervisor/types.ts';
import { realClock } from '../core/clock.ts';
import { silentLogger } from '../core/logger.ts';
import { freePort } from '../core/ports-testing.ts';
import { ExecDriver } from '../drivers/exec/driver.ts';
import { readRecord } from '../drivers/exec/state-file.ts';
import { type StatusProposal, SupervisorHost } from './host.ts';

const waitBoundMs = 15_000;
const stateDir = mkdtempSync(join(tmpdir(), 'berth-supervisor-host-'));
const nodeId = 'supervisor-host-node';
const drivers: ExecDriver[] = [];
const hosts: SupervisorHost[] = [];

afterAll(async () => {
  for (const host of hosts) await host.close();
  // Whatever a failed test left running is removed, so no process outlives the run.
  const cleaner = new ExecDriver({ nodeId, stateDir });
  for (const task of await cleaner.list({ all: true })) await cleaner.remove(task.handle);
  cleaner.close();
  for (const driver of drivers) driver.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Polls `check` until it returns something other than undefined, at most `boundMs`. */
async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + waitBoundMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/**
 * Whether `pid` is a live process. A zombie counts as dead: in this test the first driver
 * spawned the task, so after another driver kills it, it waits as a zombie for this test
 * process to reap it (a real restarted agent's tasks are reaped by init).
 */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** A tiny HTTP server as a supervised allocation; it reports whether its secret arrived. */
function webAlloc(port: number): DesiredAllocation {
  const script = [
    "console.log('secret', process.env.API_TOKEN === 'hunter2' ? 'present' : 'missing');",
    "Bun.serve({ hostname: '127.0.0.1', port: Number(process.env.PORT), fetch: () => new Response('ok') });",
  ].join(' ');
  return {
    allocId: 'web-1',
    jobId: 'web',
    jobVersion: 1,
    name: 'web.web[0]',
    jobType: 'service',
    desired: 'run',
    status: 'pending',
    task: {
      allocId: 'web-1',
      jobId: 'web',
      jobVersion: 1,
      nodeId,
      name: 'berth-web-1',
      command: [process.execPath, '-e', script],
      env: { PORT: String(port) },
      ports: { http: { host: port, container: port } },
      volumes: [],
      resources: { cpuMhz: 100, memoryMb: 64 },
      hostAddress: '127.0.0.1',
    },
    check: { kind: 'http', path: '/', portLabel: 'http' },
    // The grace covers Bun's start-up even on a loaded machine, so the first probes do
    // not fail before the server listens.
    checkIntervalMs: 200,
    checkTimeoutMs: 1_000,
    checkGraceMs: 2_000,
    restart: { attempts: 5, intervalMs: 60_000, delayMs: 100, mode: 'fail' },
    stopTimeoutMs: 2_000,
  };
}

/** A host whose proposals "commit" at once, fed back as committed statuses. */
function newHost(): { host: SupervisorHost; driver: ExecDriver; proposals: StatusProposal[] } {
  const driver = new ExecDriver({ nodeId, stateDir });
  const proposals: StatusProposal[] = [];
  const host: SupervisorHost = new SupervisorHost({
    driver,
    nodeId,
    clock: realClock,
    logger: silentLogger,
    seed: 42,
    config: { tickIntervalMs: 25, resyncIntervalMs: 250, supervisor: {} },
    propose: async (proposal) => {
      proposals.push(proposal);
      host.committedStatus(proposal.allocId, proposal.status);
    },
    resolveSecrets: () => ({ API_TOKEN: 'hunter2' }),
  });
  drivers.push(driver);
  hosts.push(host);
  return { host, driver, proposals };
}

const seen = (proposals: StatusProposal[]) => proposals.map((p) => `${p.status}:${p.reason}`);

describe('SupervisorHost with the exec driver', () => {
  test('healthy by real probes, restarted after a kill, adopted after an agent restart, stopped', async () => {
    // Proves the whole loop on real processes: a start with resolved secrets, health from
    // real HTTP probes, a restart after `kill -9`, adoption (same pid, no new start) by a
    // new host and driver over the same state directory, and a desired stop that stops
    // and removes the task and reports it complete.
    const port = freePort();
    const alloc = webAlloc(port);
    const first = newHost();
    await first.host.start();
    first.host.setDesired([alloc]);
    await waitFor('healthy', () =>
      seen(first.proposals).includes('healthy:probe_ok') ? true : undefined,
    );
    expect(seen(first.proposals)).toEqual(['running:started', 'healthy:probe_ok']);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
    const lines = await waitFor('output', () => {
      const got = first.host.logs('web-1').map((l) => l.line);
      return got.length > 0 ? got : undefined;
    });
    expect(lines).toEqual(['secret present']);

    // Kill the process behind the supervisor's back: it must come back under a new pid.
    const pid = readRecord(stateDir, 'berth-web-1')!.pid;
    process.kill(pid, 'SIGKILL');
    const restartedPid = await waitFor('restart', () => {
      const record = readRecord(stateDir, 'berth-web-1');
      return record && record.pid !== pid && isAlive(record.pid) ? record.pid : undefined;
    });
    await waitFor('healthy again', () => (first.proposals.length >= 5 ? true : undefined));
    expect(seen(first.proposals).slice(2)).toEqual([
      'unhealthy:restarting',
      'running:started',
      'healthy:probe_ok',
    ]);
    expect(first.proposals[2]!.detail).toContain('exited with code 137');

    // Agent restart: the old host and driver go away; the task keeps running.
    await first.host.close();
    first.driver.close();
    const second = newHost();
    await second.host.start();
    second.host.setDesired([{ ...alloc, status: 'healthy' }]);
    const adopted = await waitFor('adoption', () => {
      const view = second.host.allocations()[0];
      return view?.phase === 'running' ? view : undefined;
    });
    expect(adopted.handle?.id).toBe('berth-web-1');
    // Two more resyncs and many probe rounds later, nothing was restarted or re-proposed.
    await Bun.sleep(600);
    expect(readRecord(stateDir, 'berth-web-1')!.pid).toBe(restartedPid);
    expect(isAlive(restartedPid)).toBe(true);
    expect(second.proposals).toEqual([]);
    expect(second.host.allocations()[0]?.phase).toBe('running');

    // Desired stop: stopped, removed, reported complete.
    second.host.setDesired([{ ...alloc, desired: 'stop', status: 'healthy' }]);
    await waitFor('complete', () => (second.proposals.length > 0 ? true : undefined));
    expect(seen(second.proposals)).toEqual(['complete:stopped']);
    expect(isAlive(restartedPid)).toBe(false);
    expect(readRecord(stateDir, 'berth-web-1')).toBeUndefined();
    expect(await second.driver.list({ all: true })).toEqual([]);
    await second.host.close();
  }, 60_000);
});
