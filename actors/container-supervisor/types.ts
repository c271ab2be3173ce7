/**
 * The supervisor's own input types, so it does not depend on the spec parser: what the
 * agent derives from committed state about one allocation placed on this node. The task
 * template is the driver's TaskSpec without secret values; the host resolves those just
 * before `driver.start`, so plaintext secrets never sit in the actor's state or effects.
 */
import { z } from 'zod';
import { limits } from '../../src/core/limits.ts';
import type { TaskSpec } from '../../src/drivers/driver.ts';
import { Id } from '../state/commands.ts';

/** An allocation's client status as committed in the log (actors/state/commands.ts). */
export const AllocStatusSchema = z.enum([
  'pending',
  'running',
  'healthy',
  'unhealthy',
  'failed',
  'complete',
  'lost',
]);
export type AllocStatus = z.output<typeof AllocStatusSchema>;

/** Statuses an allocation never leaves (actors/state/rules.ts). */
export const terminalStatuses: ReadonlySet<AllocStatus> = new Set(['failed', 'complete', 'lost']);

const Ms = z.number().int().nonnegative();
const PortNumber = z.number().int().min(0).max(65_535);
const Text = z.string().max(limits.stateDetailLengthMax);
const listMax = limits.specListItemsMax;

/** The task to run, as the driver wants it, minus `secretEnv` (resolved by the host). */
export const TaskTemplateSchema = z.object({
  allocId: Id,
  jobId: Id,
  jobVersion: z.number().int().nonnegative(),
  nodeId: Id,
  name: Id,
  image: Text.optional(),
  command: z.array(Text).max(listMax),
  workdir: Text.optional(),
  env: z.record(Text, Text),
  ports: z.record(Text, z.object({ host: PortNumber, container: PortNumber })),
  volumes: z
    .array(z.object({ name: Text, target: Text, readOnly: z.boolean().optional() }))
    .max(listMax),
  resources: z.object({ cpuMhz: Ms, memoryMb: Ms }),
  hostAddress: Text,
  registryAuth: z.object({ username: Text, password: Text, serverAddress: Text }).optional(),
});
export type TaskTemplate = Omit<TaskSpec, 'secretEnv'>;

/** How an allocation's health is checked; ports are named by label. */
export const CheckSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('http'), path: Text, portLabel: Text }),
  z.object({ kind: z.literal('tcp'), portLabel: Text }),
  z.object({ kind: z.literal('command'), argv: z.array(Text).min(1).max(listMax) }),
]);
export type CheckSpec = z.output<typeof CheckSpecSchema>;

/** Local restarts of an exited task (the job spec's `restart` block, in ms). */
export const RestartPolicySchema = z.object({
  /** Restarts allowed within `intervalMs`. */
  attempts: z.number().int().nonnegative().max(limits.supervisorRestartHistoryMax),
  intervalMs: Ms,
  /** Base wait before a restart; doubles with each restart inside the window. */
  delayMs: Ms,
  /** Once the attempts are spent: fail the allocation, or wait for the window to pass. */
  mode: z.enum(['fail', 'delay']),
});
export type RestartPolicy = z.output<typeof RestartPolicySchema>;

/** One allocation placed on this node, with its committed status. */
export const DesiredAllocationSchema = z
  .object({
    allocId: Id,
    jobId: Id,
    jobVersion: z.number().int().nonnegative(),
    name: Id,
    /** `batch` tasks that exit 0 are complete; `service` and `system` tasks are restarted. */
    jobType: z.enum(['service', 'batch', 'system']),
    desired: z.enum(['run', 'stop']),
    /** The client status committed in the log when this set was derived. */
    status: AllocStatusSchema,
    task: TaskTemplateSchema,
    check: CheckSpecSchema.optional(),
    checkIntervalMs: z.number().int().positive(),
    checkTimeoutMs: z.number().int().positive(),
    checkGraceMs: Ms,
    restart: RestartPolicySchema,
    stopTimeoutMs: Ms.max(limits.driverStopTimeoutMsMax),
  })
  .refine((a) => a.task.allocId === a.allocId, {
    message: 'task.allocId must equal allocId',
    path: ['task', 'allocId'],
  })
  .refine((a) => !a.check || a.check.kind === 'command' || a.check.portLabel in a.task.ports, {
    message: 'the check names a port label the task does not publish',
    path: ['check', 'portLabel'],
  });
export type DesiredAllocation = Omit<z.output<typeof DesiredAllocationSchema>, 'task'> & {
  task: TaskTemplate;
};

/** A check resolved to an address the host can probe, with its timeout. */
export type ProbeTarget =
  | { kind: 'http'; host: string; port: number; path: string; timeoutMs: number }
  | { kind: 'tcp'; host: string; port: number; timeoutMs: number }
  | {
      kind: 'command';
      argv: string[];
      env: Record<string, string>;
      workdir?: string;
      timeoutMs: number;
    };
