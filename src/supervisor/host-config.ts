/**
 * Supervisor-host configuration, parsed once at start-up (STYLE.md rule 14). The pure
 * actor's own settings are nested under `supervisor`.
 */
import { z } from 'zod';
import { SupervisorConfigSchema } from '../../actors/container-supervisor/config.ts';

export const SupervisorHostConfigSchema = z.object({
  /** How often the actor receives a tick (restart delays, probe schedule), in ms. Default 250. */
  tickIntervalMs: z.number().int().positive().default(250),
  /** How often the driver's task list is re-read to catch missed events, in ms. Default 10000. */
  resyncIntervalMs: z.number().int().positive().default(10_000),
  /** First wait before re-trying a status proposal, doubled per attempt, in ms. Default 200. */
  proposeRetryBaseMs: z.number().int().positive().default(200),
  /** Longest `close()` waits for effects in progress (a stop, a start), in ms. Default 5000. */
  closeGraceMs: z.number().int().nonnegative().default(5_000),
  supervisor: SupervisorConfigSchema.default(SupervisorConfigSchema.parse({})),
});

export type SupervisorHostConfig = z.output<typeof SupervisorHostConfigSchema>;
export type SupervisorHostConfigInput = z.input<typeof SupervisorHostConfigSchema>;
