import { describe, expect, test } from 'bun:test';
import { stateCommandTypes } from '../../actors/state/commands.ts';
import { createPrng } from '../core/prng.ts';
import { listRejectedEntries, stateDigest } from './queries.ts';
import { applyAll, generateCommands, openTestState } from './testing.ts';

/** Seeds to try; BERTH_STATE_SEEDS raises it for a longer run. */
const seedCount = Number(process.env.BERTH_STATE_SEEDS ?? 2);
const commandsPerRun = 160;

describe('apply determinism', () => {
  for (let seed = 1; seed <= seedCount; seed++) {
    test(`two fresh databases applying the same entries agree (seed ${seed})`, () => {
      // Proves apply depends only on the entries: equal digests, and a different history differs.
      const commands = generateCommands(createPrng(seed), commandsPerRun);
      const first = openTestState();
      const second = openTestState();
      applyAll(first, commands);
      applyAll(second, commands);
      const digest = stateDigest(first.sqlite);
      if (digest !== stateDigest(second.sqlite)) {
        throw new Error(`state digests differ; reproduce with: BERTH_STATE_SEEDS=${seed}`);
      }
      // The workload exercises every command and a good share of rejections.
      expect(new Set(commands.map((c) => c.type))).toEqual(new Set(stateCommandTypes));
      expect(listRejectedEntries(first.db).length).toBeGreaterThan(10);
      const third = openTestState();
      applyAll(third, commands.slice(0, -1));
      expect(stateDigest(third.sqlite)).not.toBe(digest);
    });
  }

  test('label key order does not change the stored state', () => {
    // Proves JSON columns are canonical: the same labels in another key order give the same digest.
    const a = openTestState();
    const b = openTestState();
    const node = {
      id: 'n1',
      name: 'n',
      address: 'x',
      apiAddress: 'y',
      role: 'worker' as const,
      resources: { cpuMhz: 1, memoryMb: 1 },
      atMs: 1,
    };
    a.submit('node_registered', { ...node, labels: { a: '1', b: '2' } });
    b.submit('node_registered', { ...node, labels: { b: '2', a: '1' } });
    expect(stateDigest(a.sqlite)).toBe(stateDigest(b.sqlite));
  });
});
