/**
 * The Berth job spec as ONE zod schema: the YAML a user writes (snake_case, durations with
 * units, sugar such as bare port numbers) in, a normalised job (camelCase, durations in ms,
 * lists and maps in a stable order) out. Objects are strict so a misspelt field is refused.
 *
 * A full web app with a database fits in one screen: see examples/web.yml.
 */
import { z } from 'zod';
import { limits } from '../core/limits.ts';
import {
  CheckSchema,
  CommandSchema,
  ConstraintSchema,
  EnvSchema,
  NameSchema,
  PortsSchema,
  RescheduleSchema,
  RestartSchema,
  RouteSchema,
  SecretsSchema,
  UpdateSchema,
  VolumesSchema,
} from './fields.ts';
import { type Job, normalizeJob } from './normalize.ts';
import { checkJobRules } from './rules.ts';

/** Fields a job and an accessory share (an accessory has no name and no accessories). */
export const jobFieldShape = {
  type: z
    .enum(['service', 'batch', 'system'])
    .default('service')
    .describe('service: runs forever; batch: runs to completion; system: one per eligible node.'),
  image: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .describe('Docker image to run (Docker driver). Exactly one of `image` and `command`.'),
  command: CommandSchema.optional().describe(
    'Process to run without a container (exec driver): argv list or one string.',
  ),
  workdir: z
    .string()
    .startsWith('/', 'must be an absolute path')
    .max(4_096)
    .optional()
    .describe("Working directory of an exec-driver process (default: the allocation's directory)."),
  count: z
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(1)
    .describe('Allocations to run (default 1; ignored for system jobs, which run one per node).'),
  resources: z
    .strictObject({
      cpu: z.number().int().min(1).max(1_000_000).default(100).describe('CPU in MHz (default 100)'),
      memory: z
        .number()
        .int()
        .min(4)
        .max(4_194_304)
        .default(128)
        .describe('Memory in MB (default 128)'),
    })
    .prefault({})
    .describe('Reserved per allocation: cpu in MHz (default 100), memory in MB (default 128).'),
  env: EnvSchema.describe('Clear environment variables. Never put secrets here: use `secrets`.'),
  secrets: SecretsSchema.describe(
    'Secrets exposed as environment variables: list of NAME or map ENV_VAR: SECRET_NAME.',
  ),
  ports: PortsSchema.describe(
    'Ports by label: a container port, or {to, static}. Host ports are dynamic by default.',
  ),
  volumes: VolumesSchema.describe(
    'Named volumes `name:/path[:ro]`; an allocation with a volume stays on its node.',
  ),
  check: CheckSchema.optional().describe(
    'Health check: {http: /path, port} | {tcp: port} | {command: argv}, with timings.',
  ),
  update: UpdateSchema.prefault({}).describe('Rolling-update policy.'),
  restart: RestartSchema.prefault({}).describe('Restart policy for a failed process on its node.'),
  reschedule: RescheduleSchema.prefault({}).describe(
    'Rescheduling policy for a failed allocation onto another node.',
  ),
  constraints: z
    .array(ConstraintSchema)
    .max(limits.specListItemsMax)
    .default([])
    .describe('Placement rules every chosen node must satisfy.'),
  spread: z
    .boolean()
    .default(true)
    .describe("Keep the job's allocations on different nodes where possible (default true)."),
  routes: z
    .array(RouteSchema)
    .max(limits.specListItemsMax)
    .default([])
    .describe("HTTP(S) routes from the cluster's router to this job."),
  upstreams: z
    .array(NameSchema)
    .max(limits.specListItemsMax)
    .default([])
    .describe('Services this job may call through the mesh (its accessories are always allowed).'),
};

/** An accessory (a database, a cache): a job spec of its own, run as `<job>-<name>`. */
export const AccessorySpecSchema = z.strictObject(jobFieldShape);

/** The job spec, authoring form in, normalised `JobSpec` out. */
export const JobSpecSchema = z
  .strictObject({
    name: NameSchema.describe('Job name: a DNS label (lowercase letters, digits, dashes; 1-63).'),
    ...jobFieldShape,
    accessories: z
      .record(NameSchema, AccessorySpecSchema)
      .refine(
        (accessories) => Object.keys(accessories).length <= limits.specAccessoriesMax,
        `at most ${limits.specAccessoriesMax} accessories`,
      )
      .default({})
      .describe('Companion services (databases, caches), each run as a job named <job>-<name>.'),
  })
  .transform((spec, ctx) => {
    // The cross-field rules run here, after every field parsed, so they never see a
    // malformed value (a refinement would also run on partly invalid input).
    let broken = checkJobRules(spec, ctx, []);
    for (const [key, accessory] of Object.entries(spec.accessories)) {
      broken = checkJobRules(accessory, ctx, ['accessories', key]) || broken;
    }
    if (broken) return z.NEVER;
    const accessoryNames = Object.keys(spec.accessories).sort();
    const main = normalizeJob(spec.name, spec, accessoryNames);
    const accessories: Record<string, Job> = {};
    for (const key of accessoryNames) {
      accessories[key] = normalizeJob(`${spec.name}-${key}`, spec.accessories[key]!, []);
    }
    return { ...main, accessories };
  });

/** The spec as written (YAML or its JSON form). */
export type JobSpecInput = z.input<typeof JobSpecSchema>;
/** The validated job fields of one job or accessory, before normalisation. */
export type RawJobFields = z.output<typeof AccessorySpecSchema>;
/** The normalised spec: the main job plus its accessories by key. */
export type JobSpec = z.output<typeof JobSpecSchema>;
export type { Job } from './normalize.ts';
