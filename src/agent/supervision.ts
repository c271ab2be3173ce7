/**
 * The container-supervisor hosted on a node: it turns the committed allocations placed on
 * this node into the supervisor's desired set (task, check, restart policy from the
 * allocation's job version), tells it every committed status, and carries its status
 * transitions back into the log — proposed directly on the leader, forwarded over the
 * peer transport elsewhere, and confirmed by watching the committed state.
 */
import { join } from 'node:path';
import { toAllocationStatusCommand } from '../../actors/container-supervisor/index.ts';
import type { DesiredAllocation } from '../../actors/container-supervisor/types.ts';
import { stateCommands } from '../../actors/state/commands.ts';
import { realClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { DockerDriver } from '../drivers/docker/driver.ts';
import type { TaskDriver } from '../drivers/driver.ts';
import { ExecDriver } from '../drivers/exec/driver.ts';
import { encodeLogCommand } from '../raft/log-entry-codec.ts';
import type { RaftHost } from '../raft/raft-host.ts';
import type { Keyring } from '../secrets/keyring.ts';
import type { Job } from '../spec/normalize.ts';
import * as q from '../state/queries.ts';
import { type StatusProposal, SupervisorHost } from '../supervisor/host.ts';
import { dataPaths, readTls } from './data-dir.ts';
import { MultiDriver } from './multi-driver.ts';
import type { RaftClusterService } from './raft-cluster-service.ts';
import type { StateHost } from './state-host.ts';
import { openTaskSecrets, signTaskSecretsRequest, specOf } from './task-secrets.ts';

/** Grace a task gets between SIGTERM and SIGKILL, in ms (Docker's default stop timeout). */
export const stopTimeoutMs = 10_000;
/**
 * How long a healthy allocation keeps running after it is marked for stopping, in ms.
 * Every router drops it from its table as soon as it applies that entry; this delay lets
 * routers on other nodes apply it too and requests already sent to it finish (kamal-proxy
 * drains before it stops a target) before the task gets SIGTERM.
 */
export const drainDelayMs = 2_000;
/** How long a forwarded status proposal may take to show up committed, in ms. */
const forwardConfirmMs = 5_000;

export interface SupervisionOptions {
  nodeId: number;
  dataDir: string;
  hostAddress: string;
  raft: RaftHost;
  state: StateHost;
  service: RaftClusterService;
  keyring: Keyring | undefined;
  logger: Logger;
  /** This node's own API (`https://host:port`), which forwards to the leader. */
  apiUrl: string;
  /** The cluster's identity (from its CA), scoping Docker containers to this cluster. */
  clusterId: string;
}

export class Supervision {
  readonly host: SupervisorHost;
  readonly driver: MultiDriver;
  readonly #o: SupervisionOptions;
  readonly #exec: ExecDriver;
  #committed = new Map<string, string>();
  #desiredSignature = '';
  /** When each allocation was first seen marked for stopping (for the drain delay). */
  #stopSeenAtMs = new Map<string, number>();
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void) | undefined;

  private constructor(
    o: SupervisionOptions,
    exec: ExecDriver,
    driver: MultiDriver,
    host: SupervisorHost,
  ) {
    this.#o = o;
    this.#exec = exec;
    this.driver = driver;
    this.host = host;
  }

  static async start(o: SupervisionOptions): Promise<Supervision> {
    const nodeId = String(o.nodeId);
    const exec = new ExecDriver({ nodeId, stateDir: join(o.dataDir, 'exec'), logger: o.logger });
    let docker: TaskDriver | undefined;
    try {
      docker = await DockerDriver.connect({ nodeId, cluster: o.clusterId, logger: o.logger });
    } catch (error) {
      o.logger.info('no Docker Engine on this node; exec jobs only', { error: String(error) });
    }
    const driver = new MultiDriver(exec, docker);
    let self: Supervision | undefined;
    const host = new SupervisorHost({
      driver,
      nodeId,
      clock: realClock,
      logger: o.logger,
      propose: (p) => self!.#propose(p),
      resolveSecrets: (alloc) => self!.#secretsOf(alloc),
    });
    const started = new Supervision(o, exec, driver, host);
    self = started;
    await host.start();
    started.#sync();
    started.#unsubscribe = o.state.onApplied(() => started.#sync());
    return started;
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    clearTimeout(this.#drainTimer);
    await this.host.close();
    this.#exec.close();
  }

  /** Derives the desired set and the committed statuses from state, and hands over changes. */
  #sync(): void {
    const db = this.#o.state.db;
    const allocs = q.listAllocations(db, { nodeId: String(this.#o.nodeId) });
    const desired: DesiredAllocation[] = [];
    for (const a of allocs) {
      const terminal =
        a.clientStatus === 'failed' || a.clientStatus === 'complete' || a.clientStatus === 'lost';
      if (a.desiredStatus === 'stop' && terminal) {
        this.#stopSeenAtMs.delete(a.id);
        continue;
      }
      const spec = specOf(db, a.jobId, a.jobVersion);
      if (spec) desired.push(this.#draining(this.#desiredOf(a, spec), a.clientStatus));
    }
    const signature = JSON.stringify(desired.map((d) => [d.allocId, d.jobVersion, d.desired]));
    if (signature !== this.#desiredSignature) {
      this.#desiredSignature = signature;
      this.host.setDesired(desired);
    }
    for (const a of allocs) {
      if (this.#committed.get(a.id) === a.clientStatus) continue;
      this.#committed.set(a.id, a.clientStatus);
      this.host.committedStatus(a.id, a.clientStatus);
    }
  }

  /** Keeps a healthy allocation running for drainDelayMs after it is marked for stopping. */
  #draining(d: DesiredAllocation, status: string): DesiredAllocation {
    if (d.desired !== 'stop' || status !== 'healthy') return d;
    const now = Date.now();
    const seen = this.#stopSeenAtMs.get(d.allocId) ?? now;
    this.#stopSeenAtMs.set(d.allocId, seen);
    if (now - seen >= drainDelayMs) return d;
    clearTimeout(this.#drainTimer);
    this.#drainTimer = setTimeout(() => this.#sync(), drainDelayMs - (now - seen) + 10);
    return { ...d, desired: 'run' };
  }

  #desiredOf(a: q.AllocationView, spec: Job): DesiredAllocation {
    const ports: Record<string, { host: number; container: number }> = {};
    for (const p of spec.ports) {
      const host = a.ports[p.label];
      if (host !== undefined) ports[p.label] = { host, container: p.to };
    }
    const check = spec.check;
    return {
      allocId: a.id,
      jobId: a.jobId,
      jobVersion: a.jobVersion,
      name: a.name,
      jobType: spec.type,
      desired: a.desiredStatus,
      status: a.clientStatus,
      task: {
        allocId: a.id,
        jobId: a.jobId,
        jobVersion: a.jobVersion,
        nodeId: String(this.#o.nodeId),
        name: `berth-${a.jobId}-${a.id}`,
        ...(spec.driver.kind === 'docker'
          ? { image: spec.driver.image, command: [] }
          : {
              command: spec.driver.command,
              ...(spec.driver.workdir ? { workdir: spec.driver.workdir } : {}),
            }),
        env: spec.env,
        ports,
        volumes: spec.volumes.map((v) => ({ name: v.name, target: v.path, readOnly: v.readOnly })),
        resources: a.resources,
        hostAddress: this.#o.hostAddress,
      },
      ...(check
        ? {
            check:
              check.kind === 'http'
                ? { kind: 'http' as const, path: check.path, portLabel: check.port }
                : check.kind === 'tcp'
                  ? { kind: 'tcp' as const, portLabel: check.port }
                  : { kind: 'command' as const, argv: check.command },
          }
        : {}),
      checkIntervalMs: check?.intervalMs ?? 5_000,
      checkTimeoutMs: check?.timeoutMs ?? 2_000,
      checkGraceMs: check?.graceMs ?? 0,
      restart: spec.restart,
      stopTimeoutMs,
    };
  }

  /**
   * Secret values for a task: opened here on a node holding the keyring (voters), else
   * asked from the leader with a request signed by this node's key (workers).
   */
  async #secretsOf(alloc: DesiredAllocation): Promise<Record<string, string>> {
    const spec = specOf(this.#o.state.db, alloc.jobId, alloc.jobVersion);
    if (!spec || spec.secrets.length === 0) return {};
    if (this.#o.keyring) return openTaskSecrets(this.#o.state.db, this.#o.keyring, alloc.allocId);
    const tls = readTls(dataPaths(this.#o.dataDir));
    const req = await signTaskSecretsRequest(
      { certPem: tls.certPem, keyPem: tls.keyPem },
      alloc.allocId,
    );
    const res = await fetch(`${this.#o.apiUrl}/v1/cluster/task-secrets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
      tls: { ca: tls.caPem },
      signal: AbortSignal.timeout(10_000),
    } as RequestInit);
    const body = (await res.json().catch(() => null)) as {
      env?: Record<string, string>;
      error?: { code: string; message: string };
    } | null;
    if (!res.ok || !body?.env) {
      throw new BerthError(
        body?.error?.code ?? 'secrets_unavailable',
        body?.error?.message ?? `HTTP ${res.status}`,
      );
    }
    return body.env;
  }

  /** Proposes a transition and resolves once it is committed (or rejects). */
  async #propose(p: StatusProposal): Promise<void> {
    const command = toAllocationStatusCommand(p, Date.now());
    if (this.#o.raft.status().role === 'leader') {
      await this.#o.service.proposeState('allocation_status', command);
      return;
    }
    const parsed = stateCommands.parse('allocation_status', command);
    if (!parsed.ok) throw parsed.error;
    const sent = this.#o.raft.forward(encodeLogCommand('allocation_status', parsed.data));
    if (sent === 'no_leader' || sent === 'dropped')
      throw new BerthError('no_leader', `status not sent (${sent})`);
    await this.#confirm(p.allocId, p.status);
  }

  #confirm(allocId: string, status: string): Promise<void> {
    const seen = () => q.getAllocation(this.#o.state.db, allocId)?.clientStatus === status;
    if (seen()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new BerthError('timeout', `status ${status} of ${allocId} not committed in time`));
      }, forwardConfirmMs);
      const off = this.#o.state.onApplied(() => {
        if (!seen()) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }
}
