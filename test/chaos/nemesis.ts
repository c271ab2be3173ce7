/**
 * The chaos test's nemesis: one fault at a time on a real cluster, each healed before the
 * next, so a quorum survives every fault and the run measures safety, not an outage.
 *
 * Faults: `kill -9` + restart, SIGSTOP/SIGCONT (a gray failure), and network partitions
 * through the agents' test-only fault injection (partitions.ts): the leader isolated from
 * everyone, a 2|3 split, a cut written on one side only, a one-way cut (a node that cannot
 * hear, or cannot be heard), and random message loss. Kinds are drawn round-robin from a
 * seeded shuffle, so every kind occurs once in each run of that many faults.
 */
import type { Prng } from '../../src/core/prng.ts';
import type { TestCluster, TestNode } from '../cluster/harness.ts';
import { cutBetween, groupName, healAll, writeFaults } from './partitions.ts';

export const faultKinds = [
  'kill9',
  'sigstop',
  'isolate-leader',
  'split',
  'one-side',
  'one-way',
  'lossy',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** Pause between two polls of node status while a partition holds, in ms. */
const statusPollMs = 100;

export class Nemesis {
  /** One line per fault injected, in order. */
  readonly log: string[] = [];
  readonly counts = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<FaultKind, number>;
  /** Nodes killed or stopped right now: clients do not pick them. */
  readonly faulted = new Set<number>();
  /** Isolations of a node that answered as the leader (not of a random fallback node). */
  leaderIsolations = 0;
  /** Of those, the ones during which the rest of the cluster was seen to elect another leader. */
  newLeadersSeen = 0;
  readonly #cluster: TestCluster;
  readonly #prng: Prng;
  readonly #stopped = new Set<number>();
  #order: FaultKind[] = [];

  constructor(cluster: TestCluster, prng: Prng) {
    this.#cluster = cluster;
    this.#prng = prng;
  }

  /** Injects faults until `untilMs` (performance.now) or `faultsMax` faults. */
  async run(untilMs: number, faultsMax: number): Promise<void> {
    for (let n = 0; n < faultsMax && performance.now() < untilMs; n++) {
      await Bun.sleep(this.#prng.int(300, 2_000));
      if (this.#order.length === 0) this.#order = shuffled(this.#prng, faultKinds);
      const kind = this.#order.shift() as FaultKind;
      this.counts[kind]++;
      await this.#inject(kind);
    }
  }

  /** Resumes stopped nodes and heals the network (safe to call at any time). */
  heal(): void {
    for (const i of this.#stopped) this.#resume(i);
    healAll(this.#cluster.nodes);
  }

  async #inject(kind: FaultKind): Promise<void> {
    switch (kind) {
      case 'kill9':
        return this.#kill9();
      case 'sigstop':
        return this.#sigstop();
      case 'isolate-leader':
        return this.#isolateLeader();
      case 'split':
        return this.#split();
      case 'one-side':
        return this.#oneSide();
      case 'one-way':
        return this.#oneWay();
      case 'lossy':
        return this.#lossy();
    }
  }

  async #kill9(): Promise<void> {
    const node = this.#prng.int(0, this.#nodes.length);
    const downMs = this.#prng.int(200, 3_000);
    this.log.push(`kill -9 node ${node} for ${downMs} ms`);
    this.faulted.add(node);
    await this.#cluster.kill9(node);
    await Bun.sleep(downMs);
    await this.#cluster.restart(node);
    this.faulted.delete(node);
  }

  async #sigstop(): Promise<void> {
    const node = this.#prng.int(0, this.#nodes.length);
    const frozenMs = this.#prng.int(300, 4_000);
    this.log.push(`SIGSTOP node ${node} for ${frozenMs} ms`);
    this.faulted.add(node);
    process.kill(this.#pid(node), 'SIGSTOP');
    this.#stopped.add(node);
    await Bun.sleep(frozenMs);
    this.#resume(node);
    this.faulted.delete(node);
  }

  /** Cuts the leader off from everyone; the others must elect a new leader meanwhile. */
  async #isolateLeader(): Promise<void> {
    const fallback = this.#prng.pick(this.#nodes);
    const holdMs = this.#prng.int(1_500, 4_000);
    const found = await this.#leaderNode();
    const leader = found ?? fallback;
    const rest = this.#nodes.filter((n) => n !== leader);
    cutBetween([leader], rest);
    // Timed from the cut, not from the status round before it, which may be slow under load.
    const endMs = performance.now() + holdMs;
    const known = found ? 'the leader' : 'a random node (no leader answered)';
    this.log.push(`isolate ${known}, node ${leader.index}, for ${holdMs} ms`);
    if (found) {
      this.leaderIsolations++;
      if (await this.#otherLeaderSeen(rest, leader, endMs)) this.newLeadersSeen++;
    }
    await sleepUntil(endMs);
    healAll(this.#nodes);
  }

  /** Two random nodes against the other three. */
  async #split(): Promise<void> {
    const order = shuffled(this.#prng, this.#nodes);
    const holdMs = this.#prng.int(1_000, 4_000);
    const [small, large] = [order.slice(0, 2), order.slice(2)];
    cutBetween(small, large);
    this.log.push(`split ${groupName(small)}|${groupName(large)} for ${holdMs} ms`);
    await Bun.sleep(holdMs);
    healAll(this.#nodes);
  }

  /** One node blocks some peers in its own file only; theirs stay empty. */
  async #oneSide(): Promise<void> {
    const order = shuffled(this.#prng, this.#nodes);
    const [node, ...others] = order as [TestNode, ...TestNode[]];
    const peers = others.slice(0, this.#prng.int(1, others.length + 1));
    const holdMs = this.#prng.int(1_000, 4_000);
    writeFaults(node, { blocked: peers.map((p) => p.nodeId) });
    this.log.push(`node ${node.index} alone blocks ${groupName(peers)} for ${holdMs} ms`);
    await Bun.sleep(holdMs);
    healAll(this.#nodes);
  }

  /** The leader (half the time, else a random node) loses one direction to everyone. */
  async #oneWay(): Promise<void> {
    const fallback = this.#prng.pick(this.#nodes);
    const preferLeader = this.#prng.chance(0.5);
    const deaf = this.#prng.chance(0.5);
    const holdMs = this.#prng.int(1_000, 4_000);
    const node = (preferLeader ? await this.#leaderNode() : undefined) ?? fallback;
    const others = this.#nodes.filter((n) => n !== node).map((n) => n.nodeId);
    writeFaults(node, deaf ? { blockedFrom: others } : { blockedTo: others });
    const what = deaf ? 'hears nobody' : 'is heard by nobody';
    this.log.push(`node ${node.index} ${what} for ${holdMs} ms`);
    await Bun.sleep(holdMs);
    healAll(this.#nodes);
  }

  /** Every node loses a share of its Raft messages, both ways. */
  async #lossy(): Promise<void> {
    const dropPercent = this.#prng.int(5, 31);
    const holdMs = this.#prng.int(1_000, 4_000);
    for (const node of this.#nodes) writeFaults(node, { dropRate: dropPercent / 100 });
    this.log.push(`drop ${dropPercent}% of messages everywhere for ${holdMs} ms`);
    await Bun.sleep(holdMs);
    healAll(this.#nodes);
  }

  get #nodes(): TestNode[] {
    return this.#cluster.nodes;
  }

  /** The node that says it leads, with the highest term; undefined when none answers so. */
  async #leaderNode(): Promise<TestNode | undefined> {
    const views = await Promise.all(this.#nodes.map((n) => this.#cluster.status(n.index)));
    let best: { node: TestNode; term: number } | undefined;
    views.forEach((view, i) => {
      const node = this.#nodes[i];
      if (view?.role !== 'leader' || !node) return;
      if (!best || view.term > best.term) best = { node, term: view.term };
    });
    return best?.node;
  }

  /** Polls `group` until one of them, not `excluded`, says it leads; false at `endMs`. */
  async #otherLeaderSeen(
    group: readonly TestNode[],
    excluded: TestNode,
    endMs: number,
  ): Promise<boolean> {
    while (performance.now() < endMs) {
      const views = await Promise.all(group.map((n) => this.#cluster.status(n.index)));
      if (views.some((v) => v?.role === 'leader' && v.nodeId !== String(excluded.nodeId))) {
        return true;
      }
      await Bun.sleep(statusPollMs);
    }
    return false;
  }

  #pid(i: number): number {
    const p = this.#nodes[i]?.process?.pid;
    if (p === undefined) throw new Error(`node ${i} has no process`);
    return p;
  }

  #resume(i: number): void {
    process.kill(this.#pid(i), 'SIGCONT');
    this.#stopped.delete(i);
  }
}

/** A seeded Fisher–Yates shuffle (a copy). */
function shuffled<T>(prng: Prng, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = prng.int(0, i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

async function sleepUntil(endMs: number): Promise<void> {
  const leftMs = endMs - performance.now();
  if (leftMs > 0) await Bun.sleep(leftMs);
}
