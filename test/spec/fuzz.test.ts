import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { createPrng, type Prng } from '../../src/core/prng.ts';
import { parseJobSpec } from '../../src/spec/parse.ts';

/** Mutated specs per run; raise with SPEC_FUZZ_RUNS for a long run. */
const runs = Number(process.env.SPEC_FUZZ_RUNS ?? 200);
const seed = Number(process.env.SEED ?? 1);
const noise = [
  ':',
  ' ',
  '-',
  '\t',
  '#',
  '[',
  ']',
  '{',
  '}',
  '"',
  "'",
  '|',
  '>',
  '&',
  '*',
  '\n',
  'x',
];

function mutate(text: string, prng: Prng): string {
  const lines = text.split('\n');
  const edits = prng.int(1, 4);
  for (let edit = 0; edit < edits; edit += 1) {
    const at = prng.int(0, lines.length);
    const line = lines[at] ?? '';
    switch (prng.int(0, 4)) {
      case 0:
        lines.splice(at, 1);
        break;
      case 1:
        lines.splice(at, 0, line);
        break;
      case 2: {
        const column = prng.int(0, line.length + 1);
        lines[at] = line.slice(0, column) + prng.pick(noise) + line.slice(column);
        break;
      }
      default:
        lines[at] = ' '.repeat(prng.int(0, 6)) + line.trimStart();
    }
  }
  return lines.join('\n');
}

// Proves mutated specs never crash the parser and every error points inside the file.
test('mutated examples give results, never exceptions', async () => {
  const examplesDir = join(import.meta.dir, '../../examples');
  const texts: string[] = [];
  for (const name of [...new Bun.Glob('*.yml').scanSync(examplesDir)].sort()) {
    texts.push(await Bun.file(join(examplesDir, name)).text());
  }
  const prng = createPrng(seed);
  let refused = 0;
  for (let run = 0; run < runs; run += 1) {
    const text = mutate(prng.pick(texts), prng);
    const lineCount = text.split('\n').length;
    let result: ReturnType<typeof parseJobSpec>;
    try {
      result = parseJobSpec(text, 'fuzz.yml');
    } catch (error) {
      throw new Error(`reproduce with: SEED=${seed} (run ${run}): ${error}\n${text}`);
    }
    if (result.ok) continue;
    refused += 1;
    for (const error of result.errors) {
      const where = `reproduce with: SEED=${seed} (run ${run}): ${JSON.stringify(error)}`;
      expect(error.line >= 1 && error.line <= lineCount, where).toBe(true);
      expect(error.column >= 1, where).toBe(true);
      expect(error.message.length > 0, where).toBe(true);
    }
  }
  // Mutations that break the YAML must be common, or this test checks nothing.
  expect(refused).toBeGreaterThan(runs / 10);
});
