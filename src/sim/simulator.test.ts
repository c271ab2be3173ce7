import { describe, expect, test } from 'bun:test';
import { createPrng } from '../core/prng.ts';
import {
  calmFaults,
  deriveFaultConfig,
  type FaultConfig,
  formatFaultHeader,
} from './fault-config.ts';
import type { SimNodeId } from './network.ts';
import { formatFailure, reproduceLine } from './runner.ts';
import { type NodeContext, type SimProcess, Simulator } from './simulator.ts';

// A toy protocol for exercising the harness: every node pings a random peer every
// 10 ms; a received ping is written to the node's unsynced buffer and every third
// timer tick flushes that buffer to its durable log.
interface ToyDisk {
  durable: string[];
  unsynced: string[];
  boots: number;
}
type ToyMsg = { kind: 'ping'; n: number };

class ToyNode implements SimProcess<ToyMsg> {
  volatileSeen = 0;
  #n = 0;
  constructor(
    private ctx: NodeContext<ToyMsg>,
    private disk: ToyDisk,
    private peers: SimNodeId[],
  ) {
    disk.boots++;
    this.#arm();
  }
  receive(from: SimNodeId, msg: ToyMsg): void {
    this.volatileSeen++;
    this.disk.unsynced.push(`${from}:${msg.n}`);
  }
  #arm(): void {
    this.ctx.setTimer(10, `tick ${this.ctx.id}`, () => {
      const to = this.ctx.prng.pick(this.peers.filter((p) => p !== this.ctx.id));
      this.ctx.send(to, { kind: 'ping', n: this.#n++ });
      if (this.#n % 3 === 0) this.disk.durable.push(...this.disk.unsynced.splice(0));
      this.#arm();
    });
  }
}

type ToySim = Simulator<ToyMsg, ToyDisk, ToyNode>;

function makeToySim(seed: number, faults: FaultConfig, nodeCount = 3): ToySim {
  const sim: ToySim = new Simulator({
    seed,
    faults,
    describe: (m) => `ping${m.n}`,
    traceLinesMax: 100,
  });
  const ids = Array.from({ length: nodeCount }, (_, i) => i + 1);
  for (const id of ids) {
    sim.addNode(id, {
      disk: { durable: [], unsynced: [], boots: 0 },
      boot: (ctx, disk) => new ToyNode(ctx, disk, ids),
      loseVolatile: (disk) => {
        disk.unsynced.length = 0;
      },
    });
  }
  return sim;
}

function runToy(seed: number, faults: FaultConfig, untilMs = 2_000): ToySim {
  const sim = makeToySim(seed, faults);
  sim.runUntil(untilMs);
  return sim;
}

const lossy: FaultConfig = {
  ...calmFaults,
  delayMsMin: 1,
  delayMsMax: 30,
  lossRate: 0.1,
  duplicateRate: 0.05,
  reorderRate: 0.2,
  reorderDelayMsMax: 50,
};

describe('simulator', () => {
  test('replays the same seed to an identical trace', () => {
    // Determinism: one seed names one run, down to the order of every event.
    const a = runToy(7, deriveFaultConfig(createPrng(7)));
    const b = runToy(7, deriveFaultConfig(createPrng(7)));
    expect(a.trace.count).toBeGreaterThan(100);
    expect(a.trace.hash()).toBe(b.trace.hash());
    expect(a.trace.lines).toEqual(b.trace.lines);
  });

  test('different seeds give different traces and fault settings', () => {
    // The seed drives both the fault mix and every random choice of the run.
    const hashes = new Set<string>();
    const headers = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const faults = deriveFaultConfig(createPrng(seed));
      headers.add(formatFaultHeader(seed, faults).replace(/^seed=\d+ /, ''));
      hashes.add(runToy(seed, faults, 500).trace.hash());
    }
    expect(hashes.size).toBe(20);
    expect(headers.size).toBe(20);
  });

  test('loss, duplication and reordering happen at the configured rates', () => {
    // Each fault is drawn per message, so over many messages the rates show through.
    const sim = runToy(3, lossy, 20_000);
    const s = sim.network.stats;
    expect(s.sent).toBeGreaterThan(5_000);
    expect(s.lost / s.sent).toBeCloseTo(0.1, 1);
    const launched = s.sent - s.lost;
    expect(s.duplicated / launched).toBeCloseTo(0.05, 1);
    expect(s.reordered / (launched + s.duplicated)).toBeCloseTo(0.2, 1);
    // Everything launched is delivered (no cuts, nobody down) or still in flight.
    expect(s.delivered + sim.network.inFlight).toBe(launched + s.duplicated);
  });

  test('a calm network delivers every message once', () => {
    // With no faults configured the harness itself must not lose or invent messages.
    const sim = runToy(4, calmFaults, 5_000);
    const s = sim.network.stats;
    expect(s.lost + s.duplicated + s.cut + s.toDownNode).toBe(0);
    expect(s.delivered + sim.network.inFlight).toBe(s.sent);
  });

  test('a symmetric partition stops traffic both ways until healed', () => {
    // Partitions cut links in both directions; heal restores them.
    const sim = makeToySim(5, calmFaults);
    sim.runUntil(500);
    sim.network.partition([1], [2, 3]);
    const seenBefore = [1, 2, 3].map(
      (id) => sim.disk(id).durable.length + sim.disk(id).unsynced.length,
    );
    const cutBefore = sim.network.stats.cut;
    sim.runUntil(1_500);
    const received = (id: number) =>
      [...sim.disk(id).durable, ...sim.disk(id).unsynced].slice(seenBefore[id - 1]);
    // Node 1 hears nobody; 2 and 3 hear only each other; some messages hit the cut.
    expect(received(1)).toEqual([]);
    expect(received(2).every((m) => m.startsWith('3:'))).toBe(true);
    expect(received(3).every((m) => m.startsWith('2:'))).toBe(true);
    expect(sim.network.stats.cut).toBeGreaterThan(cutBefore);
    sim.network.heal();
    sim.runUntil(2_500);
    expect(received(1).length).toBeGreaterThan(0);
  });

  test('a one-way partition blocks one direction only', () => {
    // Asymmetric faults: 1 cannot reach 2, but 2 still reaches 1.
    const sim = makeToySim(6, calmFaults, 2);
    sim.network.cutOneWay(1, 2);
    sim.runUntil(1_000);
    const all = (id: number) => [...sim.disk(id).durable, ...sim.disk(id).unsynced];
    expect(all(2)).toEqual([]);
    expect(all(1).length).toBeGreaterThan(50);
    expect(sim.network.isCut(1, 2)).toBe(true);
    expect(sim.network.isCut(2, 1)).toBe(false);
  });

  test('a crash drops volatile state and timers, keeps the disk, and restart reboots from it', () => {
    // Crash semantics: the process and its unsynced writes vanish; durable writes survive.
    const sim = makeToySim(8, calmFaults);
    sim.runUntil(1_000);
    const disk = sim.disk(2);
    sim.process(2)?.receive(1, { kind: 'ping', n: 999 }); // lands in the unsynced buffer
    const durable = [...disk.durable];
    expect(disk.unsynced).toContain('1:999');
    sim.crash(2);
    expect(sim.isUp(2)).toBe(false);
    expect(disk.unsynced).toEqual([]);
    expect(disk.durable).toEqual(durable);
    const sentBefore = sim.network.stats.sent;
    sim.runUntil(2_000);
    // Node 2's timers died with it: only nodes 1 and 3 sent for 1 s (about 100 pings each).
    expect(sim.network.stats.sent - sentBefore).toBeLessThanOrEqual(202);
    expect(sim.network.stats.toDownNode).toBeGreaterThan(0);
    expect(disk.durable).toEqual(durable);
    sim.restart(2);
    expect(disk.boots).toBe(2);
    expect(sim.process(2)?.volatileSeen).toBe(0);
    sim.runUntil(3_000);
    expect(sim.process(2)?.volatileSeen).toBeGreaterThan(0);
  });

  test('the event budget stops a runaway run with a coded error', () => {
    // Every loop is bounded: a run that exceeds its event budget fails loudly.
    const sim = new Simulator<ToyMsg, ToyDisk, ToyNode>({
      seed: 1,
      faults: calmFaults,
      eventsMax: 50,
    });
    sim.addNode(1, {
      disk: { durable: [], unsynced: [], boots: 0 },
      boot: (ctx, disk) => new ToyNode(ctx, disk, [1, 2]),
    });
    expect(() => sim.runUntil(10_000)).toThrow(
      expect.objectContaining({ code: 'sim_events_exhausted' }),
    );
  });

  test('a failure report names the invariant and the reproduce line', () => {
    // Failures must be replayable: the report ends with the seed to replay.
    const text = formatFailure({
      seed: 42,
      header: 'seed=42 loss=1%',
      violation: { invariant: 'election_safety', message: 'two leaders in term 3', atMs: 100 },
      traceHash: '0',
      traceTail: ['100 deliver 1->2 vote'],
      eventsRun: 1,
      simulatedMs: 100,
    });
    expect(text).toContain('election_safety');
    expect(text).toContain('100 deliver 1->2 vote');
    expect(text.endsWith(reproduceLine(42))).toBe(true);
    expect(reproduceLine(42)).toBe('reproduce with: SEED=42 make sim');
  });
});
