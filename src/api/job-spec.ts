/**
 * The job body `POST /v1/jobs` accepts: ONE job document in the spec's written (authoring)
 * form, as JSON — what `parseJobSpec(...).documents` holds and `berth deploy` sends. The
 * schema is the spec module's own, so the CLI and the API validate with the same rules and
 * the API stores the normalised job it produces.
 */
import { z } from 'zod';

export { type JobSpec, type JobSpecInput, JobSpecSchema } from '../spec/index.ts';

/** DNS-label-like names: they become container names, route hosts and metric labels. */
export const NameSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and dashes, 1-63');
