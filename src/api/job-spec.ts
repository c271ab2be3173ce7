/**
 * The job body `POST /v1/jobs` accepts: the JSON form of a job spec (the CLI turns YAML into
 * it). Objects are strict, so a misspelt field is refused instead of silently ignored.
 *
 * This is the API's edge schema; when the spec module (YAML parsing, conversion) lands,
 * `createApi({ jobSpecSchema })` takes that module's schema instead of this one.
 */
import { z } from 'zod';

/** DNS-label-like names: they become container names, route hosts and metric labels. */
export const NameSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and dashes, 1-63');

const PortSchema = z.strictObject({
  name: NameSchema,
  containerPort: z.number().int().min(1).max(65_535),
});

const HealthCheckSchema = z.strictObject({
  path: z.string().startsWith('/').max(1_024),
  port: NameSchema,
  intervalMs: z.number().int().min(100).max(600_000).default(5_000),
  timeoutMs: z.number().int().min(100).max(60_000).default(2_000),
});

/** The job spec as the API accepts it. */
export const JobSpecSchema = z.strictObject({
  name: NameSchema,
  image: z.string().min(1).max(512),
  count: z.number().int().min(0).max(10_000).default(1),
  command: z.array(z.string().max(4_096)).max(256).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(65_536)).optional(),
  secrets: z.array(z.string().min(1).max(128)).max(256).optional(),
  ports: z.array(PortSchema).max(64).optional(),
  healthCheck: HealthCheckSchema.optional(),
});

export type JobSpec = z.output<typeof JobSpecSchema>;
