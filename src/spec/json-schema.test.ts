import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { jobSpecJsonSchema, jobSpecJsonSchemaText } from './json-schema.ts';

type SchemaNode = {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  default?: unknown;
  description?: string;
  required?: string[];
};

// Proves the editor schema describes the authoring form: strict, documented, with defaults as written.
test('describes the authoring form', () => {
  const schema = jobSpecJsonSchema() as SchemaNode;
  expect(schema.additionalProperties).toBe(false);
  expect(schema.required).toEqual(['name']);
  const properties = schema.properties!;
  expect(Object.keys(properties)).toContain('accessories');
  expect(properties.count!.default).toBe(1);
  expect(properties.update!.properties!.healthy_deadline!.default).toBe('5m');
  expect(properties.update!.properties!.max_parallel!.description).toContain('default 1');
  const accessory = properties.accessories!.additionalProperties as SchemaNode;
  expect(accessory.additionalProperties).toBe(false);
  expect(Object.keys(accessory.properties!)).not.toContain('accessories');
});

// Proves every key used by the examples is known to the editor schema, so editors show no false errors.
test('knows every key the examples use', async () => {
  const schema = jobSpecJsonSchema() as SchemaNode;
  const examplesDir = join(import.meta.dir, '../../examples');
  for (const name of new Bun.Glob('*.yml').scanSync(examplesDir)) {
    const spec = Bun.YAML.parse(await Bun.file(join(examplesDir, name)).text()) as Record<
      string,
      unknown
    >;
    for (const key of Object.keys(spec)) expect(schema.properties).toHaveProperty(key);
  }
});

// Proves the generated text is stable JSON, so a committed schema file diffs cleanly.
test('generates stable text', () => {
  const text = jobSpecJsonSchemaText();
  expect(text).toBe(jobSpecJsonSchemaText());
  expect(JSON.parse(text).title).toBe('Berth job spec');
});
