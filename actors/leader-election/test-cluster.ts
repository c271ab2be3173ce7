/**
 * An in-memory cluster for tests and the scripted interaction runner: nodes with
 * MemoryStorage, a message queue delivered in rounds, partitions and drop rules. It does
 * exactly what the driver does with each Ready (persist, send, apply, advance). Pure: no
 * I/O, no clock, randomness only from seeded generators.
 */
import { assert } from '../../src/core/assert.ts';
import { createPrng } from '../../src/core/prng.ts';
import { defaultRaftConfig, type RaftConfig } from './config.ts';
import { createRaft, type RaftNode } from './index.ts';
import { MemoryStorage } from './memory-storage.ts';
import type { ConfState, Entry, NodeId, RaftMessage, ReadState, Snapshot } from './types.ts';

export interface TestNode {
  id: NodeId;
  raft: RaftNode;
  storage: MemoryStorage;
  /** Normal entries' data in apply order (what a state machine would see). */
  appliedData: string[];
  applied: Entry[];
  readStates: ReadState[];
  snapshotsInstalled: Snapshot[];
  down: boolean;
}

export interface TestCluster {
  nodes: Map<NodeId, TestNode>;
  /** Messages sent and not yet delivered, in send order. */
  queue: RaftMessage[];
  /** Groups that can talk among themselves; empty means fully connected. */
  partitions: NodeId[][];
  /** Every message that was delivered, for assertions about traffic. */
  delivered: RaftMessage[];
  configFor: (id: NodeId) => RaftConfig;
  seed: number;
}

/** Rounds `stabilize` may run before it declares the cluster live-locked (a bug guard). */
export const stabilizeRoundsMax = 10_000;

export interface ClusterOptions {
  voters: NodeId[];
  learners?: NodeId[];
  seed?: number;
  config?: (c: RaftConfig) => RaftConfig;
}

export function createCluster(options: ClusterOptions): TestCluster {
  const tweak = options.config ?? ((c: RaftConfig) => c);
  const cluster: TestCluster = {
    nodes: new Map(),
    queue: [],
    partitions: [],
    delivered: [],
    configFor: (id) => tweak(defaultRaftConfig(id)),
    seed: options.seed ?? 1,
  };
  const conf: ConfState = { voters: options.voters, learners: options.learners ?? [] };
  for (const id of [...conf.voters, ...conf.learners]) addNode(cluster, id, conf);
  return cluster;
}

/** Adds a node; a joining node starts with an empty configuration and learns it from the log. */
export function addNode(cluster: TestCluster, id: NodeId, conf: ConfState): TestNode {
  assert(!cluster.nodes.has(id), `node ${id} exists`);
  const storage = new MemoryStorage();
  storage.setConf(conf);
  const node: TestNode = {
    id,
    raft: createRaft(cluster.configFor(id), storage, createPrng(cluster.seed * 1000 + id)),
    storage,
    appliedData: [],
    applied: [],
    readStates: [],
    snapshotsInstalled: [],
    down: false,
  };
  cluster.nodes.set(id, node);
  return node;
}

export function node(cluster: TestCluster, id: NodeId): TestNode {
  const n = cluster.nodes.get(id);
  assert(n, `no node ${id}`);
  return n;
}

/** Simulates a crash and restart: the node is rebuilt from what its storage holds. */
export function restart(cluster: TestCluster, id: NodeId, seedSalt = 7): void {
  const n = node(cluster, id);
  n.raft = createRaft(
    cluster.configFor(id),
    n.storage,
    createPrng(cluster.seed * 1000 + id + seedSalt),
  );
  n.appliedData = [];
  n.applied = [];
  n.readStates = [];
}

/** Does with one Ready what the driver does. Returns whether there was one. */
export function processReady(cluster: TestCluster, id: NodeId): boolean {
  const n = node(cluster, id);
  if (n.down || !n.raft.hasReady()) return false;
  const rd = n.raft.ready();
  if (rd.snapshot) {
    n.storage.applySnapshot(rd.snapshot);
    n.snapshotsInstalled.push(rd.snapshot);
  }
  n.storage.append(rd.entries);
  if (rd.hardState) n.storage.setHardState(rd.hardState);
  for (const m of rd.messages) cluster.queue.push(m);
  for (const e of rd.committedEntries) {
    n.applied.push(e);
    if (e.kind === 'normal') n.appliedData.push(e.data);
  }
  n.readStates.push(...rd.readStates);
  n.raft.advance(rd);
  return true;
}

export function processAllReady(cluster: TestCluster): boolean {
  let any = false;
  for (const id of cluster.nodes.keys()) any = processReady(cluster, id) || any;
  return any;
}

export function canTalk(cluster: TestCluster, from: NodeId, to: NodeId): boolean {
  if (cluster.partitions.length === 0) return true;
  return cluster.partitions.some((g) => g.includes(from) && g.includes(to));
}

/**
 * Delivers every queued message once (messages they cause wait for the next round),
 * except those `drop` rejects or a partition or a down node swallows. Returns the count.
 */
export function deliver(cluster: TestCluster, drop?: (m: RaftMessage) => boolean): number {
  const batch = cluster.queue;
  cluster.queue = [];
  let count = 0;
  for (const m of batch) {
    const target = cluster.nodes.get(m.to);
    if (!target || target.down || drop?.(m) || !canTalk(cluster, m.from, m.to)) continue;
    target.raft.step(m);
    cluster.delivered.push(m);
    count++;
  }
  return count;
}

/** Processes readies and delivers messages until nothing moves. */
export function stabilize(cluster: TestCluster, drop?: (m: RaftMessage) => boolean): void {
  for (let round = 0; round < stabilizeRoundsMax; round++) {
    const readied = processAllReady(cluster);
    const delivered = cluster.queue.length > 0 ? deliver(cluster, drop) : 0;
    if (!readied && delivered === 0 && cluster.queue.length === 0) return;
  }
  assert(false, `cluster did not stabilize within ${stabilizeRoundsMax} rounds`);
}

export function tickNode(cluster: TestCluster, id: NodeId, ticks = 1): void {
  for (let i = 0; i < ticks; i++) node(cluster, id).raft.tick();
}

export function tickAll(cluster: TestCluster, ticks = 1): void {
  for (let i = 0; i < ticks; i++) {
    for (const n of cluster.nodes.values()) if (!n.down) n.raft.tick();
  }
}

/** Ticks everyone and stabilizes after each tick, up to `ticksMax` ticks, until `done`. */
export function runUntil(cluster: TestCluster, done: () => boolean, ticksMax: number): boolean {
  for (let i = 0; i < ticksMax; i++) {
    if (done()) return true;
    tickAll(cluster);
    stabilize(cluster);
  }
  return done();
}

/** Ids of nodes that currently believe they lead. */
export function leaders(cluster: TestCluster): NodeId[] {
  return [...cluster.nodes.values()]
    .filter((n) => !n.down && n.raft.status().role === 'leader')
    .map((n) => n.id);
}

/** Elects `id` deterministically: it campaigns and the cluster stabilizes. */
export function elect(cluster: TestCluster, id: NodeId): void {
  node(cluster, id).raft.campaign();
  stabilize(cluster);
  assert(node(cluster, id).raft.status().role === 'leader', `node ${id} failed to win`);
}
