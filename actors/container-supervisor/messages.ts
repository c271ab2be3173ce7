/**
 * The container supervisor's messages. All are local (DESIGN.md §2): the desired set and
 * committed statuses are derived by the agent from the committed log (the log is the
 * mailbox; these are its per-node view), and driver results, exits, probe results and
 * ticks are high-frequency local signals. Only status *transitions* leave the actor, as
 * `propose_status` effects.
 *
 * Time arrives as `nowMs` on this node's monotonic clock, in `tick` and `observed` only;
 * the other messages are handled at the time of the latest of those.
 */
import { z } from 'zod';
import { BerthError } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import { local } from '../../src/mailbox/message-kinds.ts';
import { Id } from '../state/commands.ts';
import { AllocStatusSchema, DesiredAllocationSchema } from './types.ts';

const NowMs = z.number().nonnegative().finite();
const Detail = z.string().max(limits.stateDetailLengthMax);

export const TaskHandleSchema = z.object({
  driver: z.enum(['docker', 'exec']),
  id: z.string().min(1).max(limits.stateIdLengthMax),
  allocId: Id,
});

/** A task the driver lists (src/drivers/driver.ts ListedTask). */
export const ListedTaskSchema = z.object({
  handle: TaskHandleSchema,
  name: z.string().max(limits.stateIdLengthMax),
  labels: z.object({
    jobId: Id,
    allocId: Id,
    jobVersion: z.number().int().nonnegative(),
    nodeId: Id,
  }),
  state: z.enum(['running', 'exited']),
  exitCode: z.number().int().optional(),
  oomKilled: z.boolean().optional(),
  startedAtMs: z.number().nonnegative(),
});

export const SupervisorMessageSchema = z.discriminatedUnion('type', [
  /** The node's whole desired set, sent whenever committed state changes it. */
  z.object({
    type: z.literal('desired'),
    allocations: z.array(DesiredAllocationSchema).max(limits.supervisorAllocationsMax),
  }),
  /** An allocation's status was committed (ours or another writer's, like `lost`). */
  z.object({ type: z.literal('committed_status'), allocId: Id, status: AllocStatusSchema }),
  /** The driver's task list (running and exited), requested at `nowMs`. */
  z.object({
    type: z.literal('observed'),
    tasks: z.array(ListedTaskSchema).max(limits.driverListTasksMax),
    nowMs: NowMs,
  }),
  z.object({ type: z.literal('task_started'), allocId: Id, handle: TaskHandleSchema }),
  /** `driver.start` failed with a driver error code (src/drivers/driver.ts). */
  z.object({
    type: z.literal('task_start_failed'),
    allocId: Id,
    code: z.string().min(1).max(64),
    message: Detail,
  }),
  z.object({
    type: z.literal('task_exited'),
    allocId: Id,
    /** Null when the driver could not learn it (an adopted process that vanished). */
    exitCode: z.number().int().nullable(),
    oom: z.boolean(),
  }),
  z.object({ type: z.literal('probe_result'), allocId: Id, ok: z.boolean(), detail: Detail }),
  /** The host could not get a proposal committed after its bounded attempts. */
  z.object({ type: z.literal('proposal_failed'), allocId: Id, status: AllocStatusSchema }),
  z.object({ type: z.literal('tick'), nowMs: NowMs }),
]);

/** All local (STYLE.md rule 3); keys carry the actor's name to merge with other actors'. */
export const supervisorKindDefinitions = {
  'container_supervisor.desired': local(),
  'container_supervisor.committed_status': local(),
  'container_supervisor.observed': local(),
  'container_supervisor.task_started': local(),
  'container_supervisor.task_start_failed': local(),
  'container_supervisor.task_exited': local(),
  'container_supervisor.probe_result': local(),
  'container_supervisor.proposal_failed': local(),
  'container_supervisor.tick': local(),
};

export type SupervisorMessage = z.output<typeof SupervisorMessageSchema>;
export type MessageOf<T extends SupervisorMessage['type']> = Extract<
  SupervisorMessage,
  { type: T }
>;

/**
 * Validates a message at a trust boundary. Returns the typed message, or a BerthError
 * coded `invalid_message`.
 */
export function parseSupervisorMessage(
  raw: unknown,
): { ok: true; message: SupervisorMessage } | { ok: false; error: BerthError } {
  const result = SupervisorMessageSchema.safeParse(raw);
  if (result.success) return { ok: true, message: result.data as SupervisorMessage };
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
  const error = new BerthError(
    'invalid_message',
    `invalid container-supervisor message: ${z.prettifyError(result.error)}`,
    { issues },
  );
  return { ok: false, error };
}
