import { describe, expect, test } from 'bun:test';
import { DeadlineSweeper, type Sweepable } from './upstream-deadlines.ts';

function counter(): Sweepable & { sweeps: number } {
  return {
    sweeps: 0,
    slot: -1,
    sweep() {
      this.sweeps += 1;
    },
  };
}

describe('DeadlineSweeper', () => {
  test('visits every registered entry each sweep and none after it is deleted', async () => {
    // Proves the one-timer design: entries are swept while registered, never after.
    const sweeper = new DeadlineSweeper(5, 10);
    const a = counter();
    const b = counter();
    expect(sweeper.add(a)).toBe(true);
    expect(sweeper.add(b)).toBe(true);
    for (let i = 0; i < 100 && a.sweeps < 2; i++) await Bun.sleep(5);
    expect(a.sweeps).toBeGreaterThanOrEqual(2);
    expect(b.sweeps).toBeGreaterThanOrEqual(1);
    sweeper.delete(a);
    const frozen = a.sweeps;
    const before = b.sweeps;
    for (let i = 0; i < 100 && b.sweeps < before + 2; i++) await Bun.sleep(5);
    expect(a.sweeps).toBe(frozen);
    sweeper.delete(b);
    expect(sweeper.size).toBe(0);
  });

  test('refuses entries past its bound so the caller can time itself', () => {
    // Proves the set is bounded by entriesMax (STYLE rule 10) and says so instead of growing.
    const sweeper = new DeadlineSweeper(1_000, 2);
    const entries = [counter(), counter(), counter()];
    expect(entries.map((entry) => sweeper.add(entry))).toEqual([true, true, false]);
    for (const entry of entries) sweeper.delete(entry);
    expect(sweeper.size).toBe(0);
  });

  test('an entry may unregister itself while being swept', async () => {
    // Proves a request that times out inside a sweep leaves the set without breaking the loop.
    const sweeper = new DeadlineSweeper(5, 10);
    let visits = 0;
    const once: Sweepable = {
      slot: -1,
      sweep() {
        visits += 1;
        sweeper.delete(once);
      },
    };
    const other = counter();
    sweeper.add(once);
    sweeper.add(other);
    for (let i = 0; i < 100 && other.sweeps < 3; i++) await Bun.sleep(5);
    expect(visits).toBe(1);
    sweeper.delete(other);
  });

  test('an entry that unregisters another mid-sweep stops it being swept; the rest go on', async () => {
    // Proves a sweep survives removals of entries other than the one being swept.
    const sweeper = new DeadlineSweeper(5, 10);
    const [a, c, d] = [counter(), counter(), counter()];
    const killer: Sweepable = {
      slot: -1,
      sweep() {
        sweeper.delete(d);
      },
    };
    for (const entry of [a, killer, c, d]) sweeper.add(entry);
    expect(sweeper.add(a)).toBe(true);
    expect(sweeper.size).toBe(4);
    for (let i = 0; i < 100 && (a.sweeps < 3 || c.sweeps < 3); i++) await Bun.sleep(5);
    expect(a.sweeps).toBeGreaterThanOrEqual(3);
    expect(c.sweeps).toBeGreaterThanOrEqual(3);
    expect(d.sweeps).toBeLessThanOrEqual(1);
    expect(sweeper.size).toBe(3);
    for (const entry of [a, c, killer]) sweeper.delete(entry);
    expect(sweeper.size).toBe(0);
  });
});
