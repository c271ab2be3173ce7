/**
 * Running many seeds and reporting failures the same way everywhere: the fault header,
 * the violated invariant, the tail of the trace and the line that replays the seed.
 */

/** An invariant violation or a runaway run found by a simulation. */
export interface SimViolation {
  /** Stable name of the invariant, e.g. 'election_safety'. */
  invariant: string;
  message: string;
  atMs: number;
}

export interface SeedOutcome {
  seed: number;
  header: string;
  violation: SimViolation | undefined;
  traceHash: string;
  traceTail: string[];
  eventsRun: number;
  simulatedMs: number;
}

/** The line every failure ends with; `make sim` replays the seed verbosely. */
export function reproduceLine(seed: number): string {
  return `reproduce with: SEED=${seed} make sim`;
}

/** A multi-line failure report for one seed. */
export function formatFailure(outcome: SeedOutcome, tailLines = 40): string {
  const v = outcome.violation;
  const lines = [
    `simulation failed: ${outcome.header}`,
    v ? `violation ${v.invariant} at ${v.atMs}ms: ${v.message}` : 'no violation',
    ...outcome.traceTail.slice(-tailLines).map((l) => `  | ${l}`),
    reproduceLine(outcome.seed),
  ];
  return lines.join('\n');
}

/** Runs `runSeed` for each seed in [first, last]; stops at the first failure when `stopAtFirst`. */
export function runSeeds(
  first: number,
  last: number,
  runSeed: (seed: number) => SeedOutcome,
  options: { stopAtFirst?: boolean } = {},
): { outcomes: number; failures: SeedOutcome[] } {
  const failures: SeedOutcome[] = [];
  let outcomes = 0;
  for (let seed = first; seed <= last; seed++) {
    const outcome = runSeed(seed);
    outcomes++;
    if (outcome.violation) {
      failures.push(outcome);
      if (options.stopAtFirst) break;
    }
  }
  return { outcomes, failures };
}
