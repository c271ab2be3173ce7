/**
 * Every queue, map, retry loop and in-flight window has a named limit here (STYLE.md
 * rule 10). Relations between limits are asserted at load, so a bad edit fails at once.
 */
import { assert } from './assert.ts';

export const limits = {
  /** Default capacity of an actor mailbox, in messages. */
  mailboxDepthMax: 1024,
  /** Upper bound any mailbox may be configured with. */
  mailboxDepthCeiling: 65_536,
  /** Restarts allowed within `restartPeriodMs` before a supervisor escalates. */
  restartIntensityMax: 3,
  /** The window for counting restarts, in ms. */
  restartPeriodMs: 5_000,
  /** Entries a log-backed mailbox reads from the log in one batch. */
  logReadBatchMax: 256,
  /** Longest `ask` timeout accepted, in ms (asks are for edges; nothing waits forever). */
  askTimeoutMsMax: 60_000,
  /** Events one simulation run may process before it is declared runaway. */
  simEventsMax: 5_000_000,
  /** Messages the simulated network may hold in flight at once. */
  simInFlightMax: 100_000,
} as const;

assert(limits.mailboxDepthMax <= limits.mailboxDepthCeiling, 'mailbox default exceeds ceiling');
assert(limits.logReadBatchMax <= limits.mailboxDepthMax, 'a log batch must fit a mailbox');
assert(limits.restartIntensityMax >= 1, 'restart intensity must allow one restart');
