/**
 * Network partitions for the chaos test, through the agents' TEST-ONLY fault injection
 * (src/transport/fault-injection.ts): every agent runs with `BERTH_TEST_FAULTS_FILE`
 * naming a file in its own data directory, and re-reads it every ~100 ms. A partition is
 * a set of such files; healing writes `{}` to every one.
 *
 * The wrapper drops Raft messages only; HTTP between nodes (a follower forwarding a
 * client's request to the leader) still flows, so these are partitions of the consensus
 * traffic — the part whose safety the checker judges.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestNode } from '../cluster/harness.ts';

/** The faults file's name inside each node's data directory. */
export const faultsFileName = 'test-faults.json';

/** The agent's faults-file format (see fault-injection.ts). */
export interface FaultsFile {
  /** Peer ids cut both ways. */
  blocked?: number[];
  /** Peer ids whose messages to this node are dropped. */
  blockedFrom?: number[];
  /** Peer ids this node's messages to are dropped. */
  blockedTo?: number[];
  /** Share of every other message lost, either way. */
  dropRate?: number;
}

/** The agent environment that switches fault injection on for every node. */
export const faultInjectionEnv = { BERTH_TEST_FAULTS_FILE: faultsFileName };

/**
 * Writes node `node`'s faults file atomically (temporary file, then rename), so the agent
 * never reads half a file — which it would treat as "no faults" and heal a link early.
 */
export function writeFaults(node: TestNode, faults: FaultsFile): void {
  const path = join(node.dataDir, faultsFileName);
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(faults));
  renameSync(temporary, path);
}

/** Heals every node: no faults anywhere. */
export function healAll(nodes: readonly TestNode[]): void {
  for (const node of nodes) writeFaults(node, {});
}

/**
 * A symmetric cut between two groups: each node blocks the whole other group, on both
 * sides, so the cut holds even in the ~100 ms before the slower side re-reads its file.
 */
export function cutBetween(groupA: readonly TestNode[], groupB: readonly TestNode[]): void {
  for (const node of groupA) writeFaults(node, { blocked: groupB.map((n) => n.nodeId) });
  for (const node of groupB) writeFaults(node, { blocked: groupA.map((n) => n.nodeId) });
}

/** Describes a group of nodes by index for the fault log, e.g. `{0,3}`. */
export function groupName(group: readonly TestNode[]): string {
  return `{${group.map((n) => n.index).join(',')}}`;
}
