/**
 * The job spec as JSON Schema, for editors: completion, hover docs and red squiggles while
 * writing YAML. Generate the file once per release (or after changing the schema):
 *
 *   bun run src/spec/json-schema.ts > berth-job.schema.json
 *
 * and point a spec at it with a first line the YAML language server (VS Code's YAML
 * extension, Neovim's yamlls, Helix, Zed) understands:
 *
 *   # yaml-language-server: $schema=./berth-job.schema.json
 *
 * The schema describes the authoring form (snake_case, durations such as "5s"), not the
 * normalised job; rules that span fields (image XOR command, port labels) are only checked
 * by `berth` itself.
 */
import { z } from 'zod';
import { JobSpecSchema } from './schema.ts';

/** JSON Schema (draft 2020-12) of the job spec as users write it. */
export function jobSpecJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(JobSpecSchema, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: 'https://berth.dev/schemas/berth-job.schema.json',
    title: 'Berth job spec',
  };
}

/** The schema as the text written to `berth-job.schema.json` (stable, 2-space indented). */
export function jobSpecJsonSchemaText(): string {
  return `${JSON.stringify(jobSpecJsonSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  process.stdout.write(jobSpecJsonSchemaText());
}
