/**
 * What a node does on a timer, beside Raft's own ticks:
 *
 * - on the leader: propose the bootstrap commands once (init), promote caught-up
 *   voter-role learners until the cluster has `votersTarget` voters, and judge node
 *   liveness through the `node-monitor` actor (one TTL of grace after a failover);
 * - on every node: snapshot the state database and compact the Raft log when the log
 *   has grown past `snapshotEntries` (InstallSnapshot then serves new or lagging nodes).
 *
 * Each duty is short, idempotent and bounded; a failing one is logged and retried on the
 * next round, never allowed to stop the others.
 */
import {
  createNodeMonitorState,
  defaultNodeMonitorConfig,
  step as monitorStep,
  type NodeMonitorState,
  toNodeStatusCommand,
} from '../../actors/node-monitor/index.ts';
import type { StateCommandType } from '../../actors/state/commands.ts';
import type { Logger } from '../core/logger.ts';
import { createPrng } from '../core/prng.ts';
import type { MetricsRegistry } from '../metrics/registry.ts';
import type { RaftHost } from '../raft/raft-host.ts';
import type { SqliteRaftStorage } from '../raft/sqlite-storage.ts';
import type { ActorSystem, SupervisorRef } from '../runtime/index.ts';
import * as q from '../state/queries.ts';
import type { AgentConfig } from './config.ts';
import { type DataPaths, type NodeIdentity, readBootstrap, removeBootstrap } from './data-dir.ts';
import type { ObservedTransport } from './observed-transport.ts';
import type { RaftClusterService } from './raft-cluster-service.ts';
import type { StateHost } from './state-host.ts';

/** How often duties run, in ms. */
export const dutiesIntervalMs = 100;
/** Log entries kept after a snapshot, so a briefly lagging follower needs no snapshot. */
export const snapshotTrailingEntries = 1_024;
/** Entries beyond the last snapshot that trigger a new one (BERTH_SNAPSHOT_ENTRIES overrides). */
export const snapshotEntriesDefault = 8_192;

export interface DutiesOptions {
  identity: NodeIdentity;
  config: AgentConfig;
  paths: DataPaths;
  raft: RaftHost;
  state: StateHost;
  storage: SqliteRaftStorage;
  service: RaftClusterService;
  observed: ObservedTransport;
  logger: Logger;
  metrics: MetricsRegistry;
  /** Renews the node certificate when due; true when it did. */
  rotate: () => Promise<boolean>;
  /** The leader's scheduling loop and deployment watcher. */
  scheduling: { round(): Promise<void> };
  /** The certificates actor's ACME host (absent on workers); ticked every acmeTickMs. */
  acme?: { tick(): unknown };
}

/** How often the certificates actor plans, in ms (a tick with nothing to do reads nothing). */
export const acmeTickMs = 1_000;

/** How often the certificate's age is checked, in ms (the first check is 10 s after start). */
export const rotationCheckMs = 60 * 60_000;

export class Duties {
  readonly #o: DutiesOptions;
  readonly #logger: Logger;
  readonly #snapshotEntries: number;
  #stopped = false;
  #running = false;
  #monitor: NodeMonitorState;
  #wasLeader = false;
  #committed = new Map<string, string>();
  #pendingProposals = 0;
  readonly #prng = createPrng(Date.now() >>> 0);
  readonly #unsubscribe: Array<() => void> = [];

  constructor(options: DutiesOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ actor: 'duties' });
    this.#snapshotEntries = Number(process.env.BERTH_SNAPSHOT_ENTRIES) || snapshotEntriesDefault;
    this.#monitor = createNodeMonitorState(String(options.identity.nodeId), {
      ...defaultNodeMonitorConfig,
      heartbeatIntervalMs: options.config.heartbeatIntervalMs,
      ttlMs: options.config.nodeTtlMs,
    });
    this.#registerMetrics();
  }

  /**
   * Runs the duties as actors of the node's actor system, under its supervisor: `duties`
   * ticks every dutiesIntervalMs, `certificates` checks the node certificate's age. Each
   * handles one tick at a time to completion; a crash restarts it, and too many crashes
   * escalate to the agent, which exits for its service manager to restart it.
   */
  start(system: ActorSystem, supervisor: SupervisorRef): void {
    this.#unsubscribe.push(this.#o.observed.onHeard((from) => this.#heard(from)));
    this.#spawnTicker(system, supervisor, 'duties', dutiesIntervalMs, dutiesIntervalMs, () =>
      this.#round(),
    );
    this.#spawnTicker(system, supervisor, 'certificates', 10_000, rotationCheckMs, () =>
      this.#guard('certificate rotation', async () => {
        await this.#o.rotate();
      }),
    );
    const acme = this.#o.acme;
    if (acme) {
      this.#spawnTicker(system, supervisor, 'acme', acmeTickMs, acmeTickMs, () =>
        this.#guard('acme', async () => {
          acme.tick();
        }),
      );
    }
  }

  #spawnTicker(
    system: ActorSystem,
    supervisor: SupervisorRef,
    name: string,
    firstDelayMs: number,
    everyMs: number,
    work: () => Promise<void>,
  ): void {
    system.spawn<null, { type: 'tick' }>(
      {
        name,
        initialState: (ctx) => {
          ctx.setTimer(firstDelayMs, { type: 'tick' });
          return null;
        },
        handle: async (_state, _message, ctx) => {
          if (this.#stopped) return null;
          await work();
          ctx.setTimer(everyMs, { type: 'tick' });
          return null;
        },
      },
      { supervisor, restart: 'permanent' },
    );
  }

  stop(): void {
    this.#stopped = true;
    for (const off of this.#unsubscribe) off();
  }

  async #round(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      this.#feedMonitor();
      if (this.#o.raft.status().role === 'leader') {
        await this.#guard('bootstrap', () => this.#bootstrap());
        await this.#guard('promote', () => this.#promote());
        await this.#guard('schedule', () => this.#o.scheduling.round());
      }
      await this.#guard('snapshot', async () => this.#maybeSnapshot());
    } finally {
      this.#running = false;
    }
  }

  async #guard(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.#logger.info(`${name} did not finish; retrying next round`, { error: String(error) });
    }
  }

  /** Proposes init's commands once; re-proposing after a crash is harmless (idempotent). */
  async #bootstrap(): Promise<void> {
    const bootstrap = readBootstrap(this.#o.paths);
    if (!bootstrap) return;
    for (const command of bootstrap.commands) {
      try {
        await this.#o.service.proposeState(command.type as StateCommandType, command.data);
      } catch (error) {
        // A token recorded by an earlier attempt comes back as a conflict: already done.
        if ((error as { code?: string }).code !== 'conflict') throw error;
      }
    }
    removeBootstrap(this.#o.paths);
    this.#logger.info('cluster bootstrapped');
  }

  /** Promotes one caught-up voter-role learner per round while voters < target. */
  async #promote(): Promise<void> {
    const status = this.#o.raft.status();
    if (status.conf.voters.length >= this.#o.config.votersTarget) return;
    const wantVoter = new Set(
      q
        .listNodes(this.#o.state.db)
        .filter((n) => n.role === 'voter' && n.status === 'up')
        .map((n) => Number(n.id)),
    );
    const candidate = this.#o.raft
      .peers()
      .find(
        (p) =>
          p.role === 'learner' && wantVoter.has(p.id) && p.lagEntries !== null && p.lagEntries < 64,
      );
    if (!candidate) return;
    await this.#o.raft.promote(candidate.id);
    this.#logger.info('learner promoted to voter', { peer: candidate.id });
  }

  /** Snapshots the state database and compacts the log once it has grown enough. */
  #maybeSnapshot(): void {
    const { raft, state, storage } = this.#o;
    const applied = state.catchUp();
    if (applied !== raft.commitIndex()) return; // the conf must match the snapshot index
    if (applied - storage.snapshot().meta.index < this.#snapshotEntries) return;
    const { index, data } = state.snapshot();
    storage.createSnapshot(index, raft.status().conf, data);
    const compactTo = index - snapshotTrailingEntries;
    if (compactTo > storage.firstIndex()) storage.compact(compactTo);
    this.#logger.info('snapshot taken', {
      index,
      bytes: data.length,
      firstIndex: storage.firstIndex(),
    });
  }

  #heard(from: number): void {
    if (!this.#wasLeader) return;
    this.#stepMonitor({ type: 'heartbeat', nodeId: String(from), nowMs: performance.now() });
  }

  /** Feeds leadership, committed node statuses and a tick into the node-monitor. */
  #feedMonitor(): void {
    const nowMs = performance.now();
    const isLeader = this.#o.raft.status().role === 'leader';
    if (isLeader !== this.#wasLeader) {
      this.#wasLeader = isLeader;
      this.#stepMonitor({ type: 'leadership', isLeader, nowMs });
    }
    const nodes = q.listNodes(this.#o.state.db);
    const seen = new Set<string>();
    for (const n of nodes) {
      seen.add(n.id);
      if (this.#committed.get(n.id) === n.status) continue;
      this.#committed.set(n.id, n.status);
      this.#stepMonitor({
        type: 'committed_node',
        nodeId: n.id,
        status: n.status,
        atMs: n.statusChangedAtMs,
      });
    }
    for (const id of [...this.#committed.keys()].filter((id) => !seen.has(id))) {
      this.#committed.delete(id);
      this.#stepMonitor({
        type: 'committed_node',
        nodeId: id,
        status: 'removed',
        atMs: Date.now(),
      });
    }
    this.#stepMonitor({ type: 'tick', nowMs });
  }

  #stepMonitor(message: Parameters<typeof monitorStep>[1]): void {
    const { state, effects } = monitorStep(this.#monitor, message, { prng: this.#prng });
    this.#monitor = state;
    for (const effect of effects) {
      if (effect.type === 'propose') {
        const command = toNodeStatusCommand(effect.command, Date.now());
        this.#logger.info('node status change proposed', {
          peer: command.id,
          status: command.status,
        });
        this.#pendingProposals++;
        void this.#o.service
          .proposeState('node_status', command)
          .catch((error) =>
            this.#logger.info('node status proposal failed', { error: String(error) }),
          )
          .finally(() => this.#pendingProposals--);
      } else if (effect.type === 'proposal_abandoned') {
        this.#logger.warn('node status proposal abandoned', {
          peer: effect.id,
          status: effect.status,
        });
      }
    }
  }

  #registerMetrics(): void {
    const { metrics, raft, state, storage } = this.#o;
    const term = metrics.gauge('berth_raft_term', 'Current Raft term.', []);
    const commit = metrics.gauge('berth_raft_commit_index', 'Raft commit index on this node.', []);
    const applied = metrics.gauge(
      'berth_state_applied_index',
      'Log index applied to the state database.',
      [],
    );
    const leader = metrics.gauge(
      'berth_raft_is_leader',
      '1 when this node is the Raft leader.',
      [],
    );
    const first = metrics.gauge(
      'berth_raft_first_index',
      'Oldest log index held (after compaction).',
      [],
    );
    metrics.onCollect(() => {
      const s = raft.status();
      term.set({}, s.term);
      commit.set({}, s.commit);
      applied.set({}, state.appliedIndex());
      leader.set({}, s.role === 'leader' ? 1 : 0);
      first.set({}, storage.firstIndex());
    });
  }
}
