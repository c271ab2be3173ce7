/**
 * Child process for kill9.test.ts: consumes the local log in a real SQLite file through a
 * started LogConsumer (as the actor runtime will host it), printing `cursor <n>` as it
 * goes and `done <n>` once caught up. Usage: bun consumer-child.ts <db-path> <linger-ms>
 */
import { LocalLog } from '../../src/log/local-log.ts';
import { LogConsumer } from '../../src/mailbox/log-consumer.ts';
import { openStateDatabase } from '../../src/storage/state-db.ts';
import { type Kill9Kinds, kill9Actor, kill9Kinds } from './kill9-fixture.ts';

/** The child gives up after this long, so a broken consumer cannot hang the test. */
const childDeadlineMs = 30_000;
const progressIntervalMs = 2;

const [dbPath, lingerArg] = process.argv.slice(2);
if (dbPath === undefined) throw new Error('usage: consumer-child.ts <db-path> <linger-ms>');

const opened = openStateDatabase(dbPath, { synchronous: 'FULL' });
const log = new LocalLog(opened, kill9Kinds);
const consumer = new LogConsumer<Kill9Kinds, 'counter.add'>({
  db: opened.db,
  log,
  kinds: kill9Kinds,
  actor: kill9Actor(Number(lingerArg ?? 0)),
  batchMax: 4,
  batchesPerWakeMax: 1,
  onFailure(error) {
    console.error(`consumer failed: ${String(error)}`);
    process.exit(2);
  },
});

const startedMs = performance.now();
consumer.start();
const progress = setInterval(() => {
  const cursor = consumer.cursor();
  if (cursor >= log.commitIndex()) {
    clearInterval(progress);
    consumer.stop();
    opened.sqlite.close();
    process.stdout.write(`done ${cursor}\n`);
    process.exit(0);
  }
  process.stdout.write(`cursor ${cursor}\n`);
  if (performance.now() - startedMs > childDeadlineMs) {
    console.error('child deadline passed');
    process.exit(3);
  }
}, progressIntervalMs);
