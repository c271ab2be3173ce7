/**
 * Node-monitor configuration (DESIGN.md §5): workers heartbeat to the leader every
 * `heartbeatIntervalMs`; the leader proposes a node down once it has been silent for more
 * than `ttlMs`. The schema is meant to be embedded in the agent's configuration and
 * parsed once at start-up (STYLE.md rule 14).
 */
import { z } from 'zod';

export const NodeMonitorConfigSchema = z
  .object({
    /** How often a node sends a heartbeat to the leader, in ms. Default 500. */
    heartbeatIntervalMs: z.number().int().positive().default(500),
    /**
     * Largest amount by which one heartbeat is sent early, in ms (drawn from the seeded
     * generator), so nodes started together do not stay in lockstep. Default 50.
     */
    heartbeatJitterMs: z.number().int().nonnegative().default(50),
    /** Silence after which the leader proposes a node down, in ms. Default 3000. */
    ttlMs: z.number().int().positive().default(3_000),
    /**
     * How long the leader waits for a proposed status to commit before proposing it
     * again, in ms. Default 1000. Attempts are capped by limits.nodeStatusProposalAttemptsMax.
     */
    proposalRetryMs: z.number().int().positive().default(1_000),
  })
  .refine((c) => c.heartbeatJitterMs < c.heartbeatIntervalMs, {
    message: 'heartbeatJitterMs must be below heartbeatIntervalMs',
    path: ['heartbeatJitterMs'],
  })
  .refine((c) => c.heartbeatIntervalMs * 2 <= c.ttlMs, {
    // One lost heartbeat must not be enough to declare a node down.
    message: 'ttlMs must hold at least two heartbeat intervals',
    path: ['ttlMs'],
  });

/** A parsed node-monitor configuration. */
export type NodeMonitorConfig = z.output<typeof NodeMonitorConfigSchema>;

/** The defaults: heartbeats every 500 ms (±50 ms early), TTL 3 s, proposal retry 1 s. */
export const defaultNodeMonitorConfig: NodeMonitorConfig = NodeMonitorConfigSchema.parse({});
