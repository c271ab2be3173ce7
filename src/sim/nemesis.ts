/**
 * The nemesis: at seed-derived random intervals it partitions the network (symmetric or
 * one-way), crashes and restarts nodes, and heals, with the weights of the run's
 * FaultConfig. Owners can add their own actions (e.g. Raft membership changes) with
 * weights. At `untilMs` it stops, heals and restarts everything, so a run can check
 * liveness after the faults.
 */
import { assert } from '../core/assert.ts';
import type { SimNodeId } from './network.ts';
import type { SimProcess, Simulator } from './simulator.ts';

export type NemesisActionName = 'partition' | 'one_way' | 'crash' | 'heal' | 'restart';

/** An owner-defined action; it returns false when it could not act (counted as skipped). */
export interface ExtraNemesisAction {
  name: string;
  weight: number;
  run(): boolean;
}

export interface NemesisOptions {
  /** Nodes the nemesis may hit (members of the cluster under test), read at each action. */
  targets: () => SimNodeId[];
  /** The nemesis stops acting, heals and restarts everything at this time (absolute ms). */
  untilMs: number;
  /** Most nodes down at once; keeps runs from being all-crashed for their whole length. */
  downMax: number;
  extra?: ExtraNemesisAction[];
}

/** How many times each action ran; tests compare these with the configured weights. */
export type NemesisCounts = Record<string, number>;

export function startNemesis<M, D, P extends SimProcess<M>>(
  sim: Simulator<M, D, P>,
  options: NemesisOptions,
): NemesisCounts {
  const counts: NemesisCounts = {};
  const f = sim.faults;
  const actions: { name: string; weight: number; run: () => boolean }[] = [
    { name: 'partition', weight: f.partitionWeight, run: () => randomPartition(sim, options) },
    { name: 'one_way', weight: f.oneWayPartitionWeight, run: () => randomOneWay(sim, options) },
    { name: 'crash', weight: f.crashWeight, run: () => randomCrash(sim, options) },
    { name: 'heal', weight: f.healWeight, run: () => heal(sim) },
    { name: 'restart', weight: f.restartWeight, run: () => randomRestart(sim, options) },
    ...(options.extra ?? []),
  ];
  const totalWeight = actions.reduce((sum, a) => sum + a.weight, 0);
  const prng = sim.prng.fork();
  const arm = () => {
    const delayMs = prng.int(Math.ceil(f.nemesisIntervalMs / 2), f.nemesisIntervalMs * 2);
    if (sim.nowMs() + delayMs >= options.untilMs) {
      sim.schedule(options.untilMs - sim.nowMs(), 'nemesis end', () => endFaults(sim, options));
      return;
    }
    sim.schedule(delayMs, 'nemesis', () => {
      if (totalWeight > 0) {
        const action = pickWeighted(actions, prng.next() * totalWeight);
        const key = action.run() ? action.name : `${action.name}_skipped`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      arm();
    });
  };
  arm();
  return counts;
}

/** Heals every link, ends message faults and restarts every node that is down (the calm after the faults). */
export function endFaults<M, D, P extends SimProcess<M>>(
  sim: Simulator<M, D, P>,
  options: Pick<NemesisOptions, 'targets'>,
): void {
  sim.network.heal();
  sim.network.calm();
  for (const id of options.targets()) if (!sim.isUp(id)) sim.restart(id);
}

function pickWeighted<T extends { weight: number }>(items: T[], point: number): T {
  let acc = 0;
  for (const item of items) {
    acc += item.weight;
    if (point < acc) return item;
  }
  const last = items.findLast((i) => i.weight > 0);
  assert(last, 'pickWeighted needs a positive weight');
  return last;
}

function randomPartition<M, D, P extends SimProcess<M>>(
  sim: Simulator<M, D, P>,
  options: NemesisOptions,
): boolean {
  const nodes = options.targets();
  if (nodes.length < 2) return false;
  const side = nodes.filter(() => sim.prng.chance(0.5));
  if (side.length === 0 || side.length === nodes.length)
    side.splice(0, side.length, nodes[0] as number);
  const other = nodes.filter((n) => !side.includes(n));
  sim.network.heal();
  sim.network.partition(side, other);
  sim.trace.record(sim.nowMs(), `nemesis partition [${side}] | [${other}]`);
  return true;
}

function randomOneWay<M, D, P extends SimProcess<M>>(
  sim: Simulator<M, D, P>,
  options: NemesisOptions,
): boolean {
  const nodes = options.targets();
  if (nodes.length < 2) return false;
  const from = sim.prng.pick(nodes);
  const to = sim.prng.pick(nodes.filter((n) => n !== from));
  sim.network.cutOneWay(from, to);
  sim.trace.record(sim.nowMs(), `nemesis cut ${from}>${to}`);
  return true;
}

function randomCrash<M, D, P extends SimProcess<M>>(
  sim: Simulator<M, D, P>,
  options: NemesisOptions,
): boolean {
  const nodes = options.targets();
  const up = nodes.filter((n) => sim.isUp(n));
  if (up.length === 0 || nodes.length - up.length >= options.downMax) return false;
  sim.crash(sim.prng.pick(up));
  return true;
}

function randomRestart<M, D, P extends SimProcess<M>>(
  sim: Simulator<M, D, P>,
  options: NemesisOptions,
): boolean {
  const down = options.targets().filter((n) => !sim.isUp(n));
  if (down.length === 0) return false;
  sim.restart(sim.prng.pick(down));
  return true;
}

function heal<M, D, P extends SimProcess<M>>(sim: Simulator<M, D, P>): boolean {
  sim.network.heal();
  sim.trace.record(sim.nowMs(), `nemesis heal`);
  return true;
}
