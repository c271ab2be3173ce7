/**
 * The authoring form of each job a spec expands to. `parseJobSpec` reads one file, but the
 * API registers one job at a time and validates what it receives with the same
 * `JobSpecSchema`; these documents are what the CLI sends. Each one parses to exactly the
 * job `parseJobSpec` produced for it (tested), so the CLI and the API cannot disagree.
 */
import type { JobSpec, JobSpecInput } from './schema.ts';

/**
 * Drops top-level `x-…` keys. As in Kamal's deploy.yml they hold YAML anchors for reuse
 * (`x-common: &common`) and are not part of the job.
 */
export function withoutExtensionKeys(value: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (!key.startsWith('x-')) kept[key] = field;
  }
  return kept;
}

/**
 * One authoring document per job: the main job without its accessories (which it may
 * still call: they join its upstreams), then each accessory named `<job>-<key>`.
 */
export function jobDocuments(input: Record<string, unknown>, spec: JobSpec): JobSpecInput[] {
  const { accessories: rawAccessories, ...main } = input;
  const accessories = (rawAccessories ?? {}) as Record<string, Record<string, unknown>>;
  const documents = [{ ...main, upstreams: spec.upstreams } as JobSpecInput];
  for (const key of Object.keys(accessories).sort()) {
    documents.push({ name: `${spec.name}-${key}`, ...accessories[key] } as JobSpecInput);
  }
  return documents;
}
