/**
 * Real-process crash test of the log-backed mailbox: a child process consumes a local log
 * in a SQLite file, applying each entry by inserting a row in the cursor's transaction;
 * we SIGKILL it mid-way several times, restart it, let it finish, and check the rows.
 */
import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrng } from '../../src/core/prng.ts';
import { LocalLog } from '../../src/log/local-log.ts';
import { openStateDatabase } from '../../src/storage/state-db.ts';
import { createAppliedRowsTable, kill9ActorName, kill9Kinds } from './kill9-fixture.ts';

const entryCount = 160;
const killRounds = 8;
/** Entries the child must apply past the previous kill point before the next kill. */
const progressPerRoundMin = 3;
const progressPerRoundMax = 15;
/**
 * The child prints progress between wakes, so killing right on a progress line would
 * favour the instant between transactions; a random extra delay spreads kills over the
 * whole apply cycle, most of which is spent inside a transaction.
 */
const killDelayMsMax = 4;
/** Milliseconds the child's apply holds its transaction open after inserting. */
const applyLingerMs = 1;
/** No round (nor the final run) may take longer than this. */
const roundTimeoutMs = 20_000;
/** The whole test's budget; bun's default of 5 s is tight on a loaded 2-core machine. */
const testTimeoutMs = 60_000;

const childScript = join(import.meta.dir, 'consumer-child.ts');
const workDir = mkdtempSync(join(tmpdir(), 'berth-kill9-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function prepareDatabase(dbPath: string): void {
  const opened = openStateDatabase(dbPath, { synchronous: 'FULL' });
  createAppliedRowsTable(opened.sqlite);
  const log = new LocalLog(opened, kill9Kinds);
  for (let n = 1; n <= entryCount; n++) log.append('counter.add', { n });
  opened.sqlite.close();
}

function readOutcome(dbPath: string): { cursor: number; ns: number[] } {
  const opened = openStateDatabase(dbPath, { synchronous: 'FULL' });
  const cursorRow = opened.sqlite
    .query('SELECT applied_index AS cursor FROM actor_cursors WHERE actor = ?')
    .get(kill9ActorName) as { cursor: number } | null;
  const rows = opened.sqlite.query('SELECT n FROM applied_rows ORDER BY seq').all() as {
    n: number;
  }[];
  opened.sqlite.close();
  return { cursor: cursorRow?.cursor ?? 0, ns: rows.map((r) => r.n) };
}

/** Children still running, so a failed or timed-out round never leaks a process. */
const liveChildren = new Set<Bun.Subprocess>();
afterAll(() => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

function spawnChild(dbPath: string) {
  const child = Bun.spawn([process.execPath, childScript, dbPath, String(applyLingerMs)], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  liveChildren.add(child);
  void child.exited.then(() => liveChildren.delete(child));
  return child;
}

/** Reads the child's `cursor <n>` lines until one reaches `target`; false if it exits first. */
async function waitForCursor(stdout: ReadableStream<Uint8Array>, target: number): Promise<boolean> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [word, count] = line.split(' ');
        if (word === 'cursor' && Number(count) >= target) return true;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), roundTimeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test(
  'kill -9 mid-way, many times, leaves exactly rows 1..N',
  async () => {
    // Proves exactly-once application across real SIGKILLs: no gap, no duplicate.
    const seed = Number(process.env.SEED ?? 0x9) >>> 0;
    const prng = createPrng(seed);
    const dbPath = join(workDir, 'state.db');
    prepareDatabase(dbPath);
    try {
      let lastCursor = 0;
      for (let round = 0; round < killRounds; round++) {
        const child = spawnChild(dbPath);
        const target = lastCursor + prng.int(progressPerRoundMin, progressPerRoundMax + 1);
        const reached = await withTimeout(waitForCursor(child.stdout, target), `round ${round}`);
        await Bun.sleep(prng.next() * killDelayMsMax);
        child.kill('SIGKILL');
        await withTimeout(child.exited, `exit of round ${round}`);
        const stderr = await new Response(child.stderr).text();
        expect({ round, reached, stderr }).toEqual({ round, reached: true, stderr: '' });
        expect(child.signalCode).toBe('SIGKILL');
        const outcome = readOutcome(dbPath);
        // The kill landed mid-way, and what was applied so far is exactly 1..cursor.
        expect(outcome.cursor).toBeGreaterThanOrEqual(target);
        expect(outcome.cursor).toBeLessThan(entryCount);
        expect(outcome.ns).toEqual(Array.from({ length: outcome.cursor }, (_, i) => i + 1));
        lastCursor = outcome.cursor;
      }
      const last = spawnChild(dbPath);
      const exitCode = await withTimeout(last.exited, 'final run');
      expect({ exitCode, stderr: await new Response(last.stderr).text() }).toEqual({
        exitCode: 0,
        stderr: '',
      });
      const outcome = readOutcome(dbPath);
      expect(outcome.cursor).toBe(entryCount);
      expect(outcome.ns).toEqual(Array.from({ length: entryCount }, (_, i) => i + 1));
    } catch (error) {
      console.error(`kill -9 mailbox test failed; reproduce with: SEED=${seed}`);
      throw error;
    }
  },
  testTimeoutMs,
);
