// Runs the scripted Raft interactions in test/data/raft/*.txt and compares each command's
// transcript with its golden output. `UPDATE=1 bun test test/raft-script.test.ts` rewrites
// the goldens (review the diff before committing it).
import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createInteraction,
  parseScript,
  renderScript,
  runCommand,
} from '../actors/leader-election/interaction.ts';

const dir = join(import.meta.dir, 'data', 'raft');
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();
const update = process.env.UPDATE === '1';

describe('raft interaction scripts', () => {
  // Proves the directory holds the scripts this suite is meant to run (a missing folder must not pass silently).
  test('scripts exist', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(6);
  });

  for (const file of scripts) {
    // Proves each scripted scenario still produces exactly its recorded transcript (sections cited in each script).
    test(file, () => {
      const path = join(dir, file);
      const cases = parseScript(readFileSync(path, 'utf8'));
      const it = createInteraction();
      const outputs = cases.map((c) => runCommand(it, c.command));
      if (update) {
        writeFileSync(path, renderScript(cases, outputs));
        return;
      }
      cases.forEach((c, i) => {
        expect(`${c.command}\n----\n${outputs[i]}`).toBe(`${c.command}\n----\n${c.expected}`);
      });
    });
  }
});
