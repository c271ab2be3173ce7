import { z } from 'zod';

/**
 * The parts of Docker Engine API responses Berth reads, parsed at the boundary. Objects
 * are loose: Docker adds fields between API versions and we ignore what we do not use.
 */
export const VersionSchema = z.object({
  ApiVersion: z.string(),
  MinAPIVersion: z.string().optional(),
  Version: z.string(),
});

export const ErrorBodySchema = z.object({ message: z.string() });

export const CreatedSchema = z.object({ Id: z.string() });

const LabelsSchema = z.record(z.string(), z.string()).nullable().optional();

export const ContainerInspectSchema = z.object({
  Id: z.string(),
  Name: z.string(),
  Config: z.object({ Labels: LabelsSchema, Env: z.array(z.string()).nullable().optional() }),
  State: z.object({
    Running: z.boolean(),
    Pid: z.number().int(),
    ExitCode: z.number().int(),
    OOMKilled: z.boolean(),
    StartedAt: z.string(),
  }),
});
export type ContainerInspect = z.infer<typeof ContainerInspectSchema>;

export const ContainerListSchema = z.array(
  z.object({ Id: z.string(), Names: z.array(z.string()), Labels: LabelsSchema, State: z.string() }),
);

const CpuUsageSchema = z.object({
  cpu_usage: z.object({ total_usage: z.number() }),
  system_cpu_usage: z.number().optional(),
  online_cpus: z.number().optional(),
});

export const StatsSchema = z.object({
  cpu_stats: CpuUsageSchema,
  precpu_stats: z
    .object({
      cpu_usage: z.object({ total_usage: z.number() }).optional(),
      system_cpu_usage: z.number().optional(),
    })
    .optional(),
  memory_stats: z.object({
    usage: z.number().optional(),
    stats: z.record(z.string(), z.number()).optional(),
  }),
});
export type DockerStats = z.infer<typeof StatsSchema>;

export const EventSchema = z.object({
  Type: z.string().optional(),
  Action: z.string(),
  Actor: z.object({
    ID: z.string(),
    Attributes: z.record(z.string(), z.string()).optional(),
  }),
});

/** Lines of the pull progress stream; a failed pull reports `error` on a 200 response. */
export const PullProgressSchema = z.object({
  error: z.string().optional(),
  errorDetail: z.object({ message: z.string().optional() }).optional(),
});
