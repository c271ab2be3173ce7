/**
 * Seeded crash simulation of the log-backed mailbox. A "crash" discards the consumer
 * object at a random point while the SQLite database lives on; a fresh consumer then
 * resumes from the cursor on disk. Entries keep being appended throughout. Crash points:
 *  - inside apply, before or after the actor's own write;
 *  - before any SQL statement the consumer runs (the database handle is wrapped), so also
 *    between the actor's write and the cursor write;
 *  - right after a transaction commits, before the consumer goes on;
 *  - between entries (the consumer is dropped after a drain cut short by a small budget).
 * A crash inside a transaction is a throw, which rolls it back as a real crash would lose
 * it; the real-process version of this test is test/mailbox/kill9.test.ts.
 *
 * SEED=n replays one seed; CRASH_SIM_SEEDS=n runs more seeds (default 16).
 */

import type { Database, Statement } from 'bun:sqlite';
import { expect, test } from 'bun:test';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import { z } from 'zod';
import { createPrng, type Prng } from '../core/prng.ts';
import { LocalLog } from '../log/local-log.ts';
import { openStateDatabase } from '../storage/state-db.ts';
import { type LogActor, LogConsumer } from './log-consumer.ts';
import { type DefinitionsOf, defineMessageKinds, replicated } from './message-kinds.ts';

const kinds = defineMessageKinds({
  'counter.add': replicated(1, z.object({ n: z.number().int().positive() })),
  'other.note': replicated(2, z.object({ note: z.string() })),
});
type Kinds = DefinitionsOf<typeof kinds>;

const appliedRows = sqliteTable('applied_rows', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  n: integer('n').notNull(),
});

/** Steps of one run: each appends a little, then drains with a chance of crashing. */
const simStepsMax = 150;
/** Drains the final, crash-free recovery may take before the run is declared stuck. */
const recoveryDrainsMax = 1_000;
const defaultSeedCount = 16;
/** Test budget per seed (about 0.1 s each when idle); bun's default 5 s is tight under load. */
const testTimeoutMsPerSeed = 2_000;
const testTimeoutMsMin = 60_000;

class SimulatedCrash extends Error {}

/** How often each kind of crash happened (a run without crashes proves nothing). */
interface CrashCounts {
  inApply: number;
  atStatement: number;
  afterCommit: number;
  between: number;
}

const crashKinds = ['inApply', 'atStatement', 'afterCommit', 'between'] as const;

/** Decides, from the seed, whether the process "dies" at a given point. */
class CrashSwitch {
  armed = true;
  readonly counts: CrashCounts = { inApply: 0, atStatement: 0, afterCommit: 0, between: 0 };
  readonly #prng: Prng;
  readonly #p: Record<keyof CrashCounts, number>;

  constructor(prng: Prng) {
    this.#prng = prng;
    // Fault rates are drawn from the seed, so each seed explores a different mix.
    this.#p = {
      inApply: prng.next() * 0.15,
      atStatement: prng.next() * 0.08,
      afterCommit: prng.next() * 0.15,
      between: prng.next() * 0.6,
    };
  }

  /** Throws SimulatedCrash with this point's probability (never once disarmed). */
  maybe(kind: Exclude<keyof CrashCounts, 'between'>): void {
    if (!this.armed || !this.#prng.chance(this.#p[kind])) return;
    this.counts[kind]++;
    throw new SimulatedCrash(kind);
  }

  /** Whether to drop the consumer between two drains. */
  dropBetween(): boolean {
    if (!this.armed || !this.#prng.chance(this.#p.between)) return false;
    this.counts.between++;
    return true;
  }
}

/**
 * Wraps the bun:sqlite handle the consumer's drizzle instance talks to, so that every
 * statement may crash before it runs and every transaction may crash right after commit.
 */
function crashingClient(sqlite: Database, crash: CrashSwitch): Database {
  const statementMethods = new Set(['run', 'get', 'all', 'values']);
  const wrapStatement = (stmt: Statement): Statement =>
    new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (!statementMethods.has(String(prop))) return value.bind(target);
        return (...args: unknown[]) => {
          crash.maybe('atStatement');
          return value.apply(target, args);
        };
      },
    });
  return new Proxy(sqlite, {
    get(target, prop) {
      if (prop === 'prepare') {
        return (sql: string) => wrapStatement(target.prepare(sql));
      }
      if (prop === 'transaction') {
        return (fn: () => void) => {
          const native = target.transaction(fn);
          const afterCommit = (run: () => void) => () => {
            run();
            crash.maybe('afterCommit');
          };
          return {
            deferred: afterCommit(() => native.deferred()),
            immediate: afterCommit(() => native.immediate()),
            exclusive: afterCommit(() => native.exclusive()),
          };
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function runSeed(seed: number): CrashCounts {
  const prng = createPrng(seed);
  const opened = openStateDatabase(':memory:', { synchronous: 'FULL' });
  opened.sqlite.run(
    'CREATE TABLE applied_rows (seq INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL)',
  );
  // The log appends through the plain handle: only the consumer's side crashes.
  const log = new LocalLog(opened, kinds);
  const crash = new CrashSwitch(prng);
  const consumerDb = drizzle({ client: crashingClient(opened.sqlite, crash) });
  const actor: LogActor<Kinds, 'counter.add'> = {
    name: 'counter',
    consumes: ['counter.add'],
    apply(tx, entry) {
      crash.maybe('inApply');
      tx.insert(appliedRows).values({ n: entry.data.n }).run();
      crash.maybe('inApply');
    },
  };
  const counterValues: number[] = [];
  /** Log index of each counter value, to derive the expected state at any cursor. */
  const counterIndexes: number[] = [];
  const appendSome = (count: number) => {
    for (let i = 0; i < count; i++) {
      if (prng.chance(0.25)) {
        log.append('other.note', { note: `note ${i}` });
      } else {
        const n = counterValues.length + 1;
        const entry = log.append('counter.add', { n });
        counterValues.push(n);
        counterIndexes.push(entry.index);
        expect(entry.data).toEqual({ n });
      }
    }
  };
  const newConsumer = (p: Prng) =>
    new LogConsumer<Kinds, 'counter.add'>({
      db: consumerDb,
      log,
      kinds,
      actor,
      batchMax: p.int(1, 6),
      batchesPerWakeMax: p.int(1, 4),
    });

  let consumer = newConsumer(prng);
  for (let step = 0; step < simStepsMax; step++) {
    appendSome(prng.int(0, 4));
    try {
      consumer.drain();
    } catch (error) {
      if (!(error instanceof SimulatedCrash)) throw error;
      consumer = newConsumer(prng);
    }
    if (crash.dropBetween()) consumer = newConsumer(prng);
    // The invariant at every step: applied rows are exactly the counter entries <= cursor.
    crash.armed = false;
    const cursor = consumer.cursor();
    crash.armed = true;
    const expected = counterValues.filter((_, i) => counterIndexes[i]! <= cursor);
    expect(appliedNs(opened.sqlite)).toEqual(expected);
  }

  crash.armed = false;
  consumer = newConsumer(prng);
  let drains = 0;
  while (consumer.drain().status !== 'caught_up') {
    drains++;
    expect(drains).toBeLessThan(recoveryDrainsMax);
  }
  expect(consumer.cursor()).toBe(log.commitIndex());
  expect(appliedNs(opened.sqlite)).toEqual(counterValues);
  opened.sqlite.close();
  return crash.counts;
}

function appliedNs(sqlite: import('bun:sqlite').Database): number[] {
  const rows = sqlite.query('SELECT n FROM applied_rows ORDER BY seq').all() as { n: number }[];
  return rows.map((r) => r.n);
}

function seedsToRun(): number[] {
  const one = process.env.SEED;
  if (one !== undefined && one !== '') return [Number(one) >>> 0];
  const count = Number(process.env.CRASH_SIM_SEEDS ?? defaultSeedCount);
  // A fixed base keeps `make test` deterministic; longer runs set CRASH_SIM_SEEDS.
  return Array.from({ length: count }, (_, i) => (0x5eed0000 + i) >>> 0);
}

const seeds = seedsToRun();

test(
  'crashes at random points never leave a gap or a duplicate',
  () => {
    // Proves exactly-once application across many seeded crash/restart interleavings.
    const total: CrashCounts = { inApply: 0, atStatement: 0, afterCommit: 0, between: 0 };
    for (const seed of seeds) {
      try {
        const crashes = runSeed(seed);
        for (const kind of crashKinds) total[kind] += crashes[kind];
      } catch (error) {
        console.error(`log consumer crash simulation failed; reproduce with: SEED=${seed}`);
        throw error;
      }
    }
    // Every kind of crash must actually have happened, or the run proved less than it claims
    // (one replayed seed may lack a kind: its rates are drawn from the seed).
    if (seeds.length > 1) for (const kind of crashKinds) expect(total[kind]).toBeGreaterThan(0);
  },
  Math.max(testTimeoutMsMin, seeds.length * testTimeoutMsPerSeed),
);
