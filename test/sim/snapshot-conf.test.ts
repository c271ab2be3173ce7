import { describe, expect, test } from 'bun:test';
import { MemoryStorage } from '../../actors/leader-election/index.ts';
import { runRaftSeed } from '../../src/sim/raft-sim.ts';
import { formatFailure } from '../../src/sim/runner.ts';

// Regression tests for a fixed core/storage bug. A snapshot records the membership at its
// index (createSnapshot(index, conf, data)), but MemoryStorage.initialState() used to keep
// returning the conf given to setConf at bootstrap. Once `compact` dropped the config
// entries the snapshot covered, a restarted node rebuilt its membership from the bootstrap
// voters: removed nodes were voters again and added ones were missing. The simulator saw
// it as a member that never caught up (it was not in the restarted leader's conf), in
// seeds 277 and 283 of `SIM_SEEDS=400 make sim`. Now a restart starts from the latest
// snapshot's conf and the core replays the committed config entries after it; the
// storage contract (actors/leader-election/storage-contract.ts) covers both storages.
describe('membership after snapshot and compaction', () => {
  // Proves RaftStorage.initialState reports the latest snapshot's conf (retired ids kept) once the config entries it covers are compacted.
  test('initialState() reports the conf of the latest snapshot once its entries are compacted', () => {
    const storage = new MemoryStorage();
    storage.setConf({ voters: [1, 2, 3], learners: [] });
    storage.append([
      { index: 1, term: 1, kind: 'noop', data: '' },
      { index: 2, term: 1, kind: 'config', data: JSON.stringify({ op: 'add_learner', node: 4 }) },
      { index: 3, term: 1, kind: 'config', data: JSON.stringify({ op: 'remove', node: 3 }) },
    ]);
    storage.setHardState({ term: 1, vote: 1, commit: 3 });
    storage.createSnapshot(3, { voters: [1, 2], learners: [4], retired: [3] }, new Uint8Array());
    storage.compact(3);
    expect(storage.initialState().conf).toEqual({ voters: [1, 2], learners: [4], retired: [3] });
  });

  // Proves the simulator seeds that exposed the bug (snapshots and compaction on, restarts after compaction) now keep every invariant, liveness included.
  test('the seeds that lost membership after a restart now pass with snapshots on', () => {
    for (const seed of [277, 283]) {
      const outcome = runRaftSeed(seed);
      // The seed still draws snapshots, so it still exercises the fixed path.
      expect(outcome.header).toMatch(/snapshotEvery=[1-9]\d*\+/);
      if (outcome.violation) console.log(formatFailure(outcome));
      expect(outcome.violation).toBeUndefined();
      expect(outcome.stats.confChanges).toBeGreaterThan(0);
    }
  });
});
