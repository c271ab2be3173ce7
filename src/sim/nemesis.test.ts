import { describe, expect, test } from 'bun:test';
import { calmFaults, type FaultConfig } from './fault-config.ts';
import { startNemesis } from './nemesis.ts';
import { type SimProcess, Simulator } from './simulator.ts';

// A node that records whom it heard from and pings every other node every 20 ms.
type Msg = { from: number };
interface Disk {
  heard: number[];
}
class Pinger implements SimProcess<Msg> {
  constructor(private disk: Disk) {}
  receive(from: number): void {
    this.disk.heard.push(from);
  }
}

function makeSim(faults: FaultConfig, seed = 11): Simulator<Msg, Disk, Pinger> {
  const sim = new Simulator<Msg, Disk, Pinger>({ seed, faults, describe: () => 'p' });
  const ids = [1, 2, 3, 4, 5];
  for (const id of ids) {
    sim.addNode(id, {
      disk: { heard: [] },
      boot: (ctx, disk) => {
        const loop = () => {
          for (const to of ids) if (to !== id) ctx.send(to, { from: id });
          ctx.setTimer(20, 'ping', loop);
        };
        ctx.setTimer(20, 'ping', loop);
        return new Pinger(disk);
      },
    });
  }
  return sim;
}

describe('nemesis', () => {
  test('runs partitions, one-way cuts, crashes, restarts and heals in proportion to their weights', () => {
    // Fault actions are drawn by weight, so the configured mix is the mix that happens.
    const faults: FaultConfig = {
      ...calmFaults,
      nemesisIntervalMs: 100,
      partitionWeight: 4,
      oneWayPartitionWeight: 2,
      crashWeight: 2,
      healWeight: 1,
      restartWeight: 1,
    };
    const sim = makeSim(faults);
    const counts = startNemesis(sim, {
      targets: () => sim.nodeIds(),
      untilMs: 200_000,
      downMax: 2,
    });
    sim.runUntil(150_000);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(1_000);
    const share = (name: string) =>
      ((counts[name] ?? 0) + (counts[`${name}_skipped`] ?? 0)) / total;
    expect(share('partition')).toBeCloseTo(0.4, 1);
    expect(share('one_way')).toBeCloseTo(0.2, 1);
    expect(share('crash')).toBeCloseTo(0.2, 1);
    expect(share('heal')).toBeCloseTo(0.1, 1);
    expect(share('restart')).toBeCloseTo(0.1, 1);
    expect(sim.network.stats.cut).toBeGreaterThan(0);
    expect(sim.network.stats.toDownNode).toBeGreaterThan(0);
  });

  test('never has more than downMax nodes down, and ends with all healed and up', () => {
    // The nemesis respects its crash bound and leaves a calm cluster for liveness checks.
    const faults: FaultConfig = {
      ...calmFaults,
      nemesisIntervalMs: 50,
      crashWeight: 5,
      restartWeight: 1,
    };
    const sim = makeSim(faults, 12);
    startNemesis(sim, { targets: () => sim.nodeIds(), untilMs: 5_000, downMax: 2 });
    let downPeak = 0;
    sim.runUntil(5_000, () => {
      downPeak = Math.max(downPeak, sim.nodeIds().filter((n) => !sim.isUp(n)).length);
    });
    expect(downPeak).toBe(2);
    expect(sim.nodeIds().every((n) => sim.isUp(n))).toBe(true);
    expect(sim.network.cutLinks()).toEqual([]);
    const before = sim.disk(1).heard.length;
    sim.runUntil(5_100);
    expect(new Set(sim.disk(1).heard.slice(before))).toEqual(new Set([2, 3, 4, 5]));
  });
});
