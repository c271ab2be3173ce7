/** The job spec: YAML → validated, normalised jobs (see parse.ts and schema.ts). */
export { formatDurationMs, parseDurationMs } from './duration.ts';
export { jobSpecJsonSchema, jobSpecJsonSchemaText } from './json-schema.ts';
export type {
  CheckProbe,
  Driver,
  HealthCheck,
  Job,
  Route,
} from './normalize.ts';
export { expandJobs, type ParseJobSpecResult, parseJobSpec } from './parse.ts';
export { AccessorySpecSchema, type JobSpec, type JobSpecInput, JobSpecSchema } from './schema.ts';
export { formatSpecError, type SpecError, type SpecErrorCode } from './spec-error.ts';
