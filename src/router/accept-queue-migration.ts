/**
 * Linux resets the connections waiting in a listener's accept queue when the listener
 * closes — even when another socket of the same SO_REUSEPORT group listens on the port —
 * unless `net.ipv4.tcp_migrate_req` is 1 (Linux 5.14+), which moves them to a sibling.
 * A certificate swap (tls-listener.ts) closes the old listener right after the new one
 * binds, so without it a busy router resets a few new connections per swap (measured on
 * this machine: 90 resets in 30 swaps under 8 clients; 0 with the setting on).
 *
 * The router turns it on when it may (the agent runs as root to bind :80/:443, as Docker
 * turns on ip_forward), once per process, and says so; when it cannot, it warns with the
 * command to run. The setting is per network namespace.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../core/logger.ts';

export const tcpMigrateReqPath = '/proc/sys/net/ipv4/tcp_migrate_req';

/** What the check found or did. */
export type MigrationOutcome = 'already-on' | 'enabled' | 'unavailable';

let checked: MigrationOutcome | undefined;

/** Makes sure accept-queue migration is on; remembers the outcome for the process. */
export function ensureAcceptQueueMigration(
  logger: Logger,
  path = tcpMigrateReqPath,
): MigrationOutcome {
  if (checked !== undefined && path === tcpMigrateReqPath) return checked;
  const outcome = check(logger, path);
  if (path === tcpMigrateReqPath) checked = outcome;
  return outcome;
}

function check(logger: Logger, path: string): MigrationOutcome {
  let value: string;
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch {
    logger.warn(
      'this kernel cannot migrate accept queues (Linux 5.14+ can); a certificate swap may reset a few new connections',
    );
    return 'unavailable';
  }
  if (value === '1') return 'already-on';
  try {
    writeFileSync(path, '1');
    logger.info(
      'enabled net.ipv4.tcp_migrate_req so certificate swaps reset no waiting connection',
    );
    return 'enabled';
  } catch (error) {
    logger.warn(
      'net.ipv4.tcp_migrate_req is 0 and cannot be set; run `sysctl -w net.ipv4.tcp_migrate_req=1` so certificate swaps reset no waiting connection',
      {
        error: (error as Error).message,
      },
    );
    return 'unavailable';
  }
}
