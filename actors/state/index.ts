/**
 * The public surface of the `state` actor's pure core: the replicated command set and the
 * rules apply follows. The I/O half (applying to SQLite, queries, snapshots) is in
 * src/state/.
 */
export * from './canonical-json.ts';
export * from './commands.ts';
export * from './rules.ts';
