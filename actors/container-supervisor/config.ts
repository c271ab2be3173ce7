/**
 * Container-supervisor configuration, meant to be embedded in the agent's configuration
 * and parsed once at start-up (STYLE.md rule 14). Per-allocation settings (check timing,
 * restart policy, stop timeout) come from the job spec inside DesiredAllocation instead.
 */
import { z } from 'zod';

export const SupervisorConfigSchema = z
  .object({
    /** A task without a check is healthy once it has run this long, in ms. Default 1000. */
    noCheckHealthyAfterMs: z.number().int().nonnegative().default(1_000),
    /** Exits within `crashLoopWindowMs` that mark a crash loop. Default 5. */
    crashLoopExits: z.number().int().min(2).default(5),
    /** The window for counting exits towards a crash loop, in ms. Default 60000. */
    crashLoopWindowMs: z.number().int().positive().default(60_000),
    /** Cap on the exponential restart delay (before jitter), in ms. Default 300000. */
    restartDelayCapMs: z.number().int().nonnegative().default(300_000),
    /** Largest fraction of a restart delay added as seeded jitter. Default 0.25. */
    restartJitterFraction: z.number().min(0).max(1).default(0.25),
    /** Stop timeout for orphan tasks (no allocation to read one from), in ms. Default 10000. */
    orphanStopTimeoutMs: z.number().int().nonnegative().default(10_000),
    /** First wait after a start refused for a stuck port or name, in ms. Default 1000. */
    startWaitMs: z.number().int().positive().default(1_000),
    /** Cap on that wait as it doubles, in ms. Default 30000. */
    startWaitCapMs: z.number().int().positive().default(30_000),
  })
  .refine((c) => c.startWaitMs <= c.startWaitCapMs, {
    message: 'startWaitMs must not exceed startWaitCapMs',
    path: ['startWaitMs'],
  });

/** A parsed supervisor configuration. */
export type SupervisorConfig = z.output<typeof SupervisorConfigSchema>;

/** The defaults: healthy after 1 s without a check, crash loop at 5 exits per minute. */
export const defaultSupervisorConfig: SupervisorConfig = SupervisorConfigSchema.parse({});
