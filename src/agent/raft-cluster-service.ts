/**
 * The real `ClusterService` (src/api/cluster-service.ts) of a node: commands become
 * replicated state commands proposed through Raft, reads come from the node's state
 * database, linearizable reads go through Raft's ReadIndex. Requests that reach a
 * follower are forwarded to the leader's API before they get here (forward.ts), so on
 * this path `not_leader` means an election is running and the API's hold retries.
 */

import { canonicalJson } from '../../actors/state/canonical-json.ts';
import type { StateCommandType } from '../../actors/state/commands.ts';
import { stateCommands } from '../../actors/state/commands.ts';
import type * as api from '../api/cluster-service.ts';
import { defaultEventOf } from '../api/event-feed.ts';
import type { JobSpec } from '../api/job-spec.ts';
import { BerthError } from '../core/errors.ts';
import type { LogEntry } from '../log/committed-log.ts';
import { encodeLogCommand } from '../raft/log-entry-codec.ts';
import type { RaftHost } from '../raft/raft-host.ts';
import type { Keyring } from '../secrets/keyring.ts';
import { activeKey } from '../secrets/keyring.ts';
import { openSecretText, sealSecret } from '../secrets/vault.ts';
import type { Job } from '../spec/normalize.ts';
import * as q from '../state/queries.ts';
import { getCertificate } from '../state/queries-certs.ts';
import { certificateViews } from './cert-status.ts';
import { checkCustomCertificates } from './custom-certs.ts';
import { dryRun } from './dry-run.ts';
import { forwardedHeader } from './forward.ts';
import { requestContext } from './request-context.ts';
import type { StateHost } from './state-host.ts';

/** How long a proposal may take to commit and apply here before `timeout`, in ms. */
export const proposeTimeoutMs = 10_000;

/** Rejections recorded by apply, as the API codes clients already know. */
const rejectionCodes: Record<string, string> = {
  job_unknown: 'job_not_found',
  secret_unknown: 'secret_not_found',
  certificate_unknown: 'certificate_not_found',
  token_unknown: 'token_not_found',
  node_unknown: 'node_not_found',
};

export interface RaftClusterServiceOptions {
  raft: RaftHost;
  state: StateHost;
  /** Secrets keyring; absent on workers, which cannot open secrets. */
  keyring: Keyring | undefined;
  /** Wall clock for the `atMs` the leader stamps into entries. */
  wallMs?: () => number;
}

export class RaftClusterService implements api.ClusterService {
  readonly events: RaftHost;
  readonly #raft: RaftHost;
  readonly #state: StateHost;
  readonly #keyring: Keyring | undefined;
  readonly #wallMs: () => number;
  #localLogs:
    | ((allocId: string, query: api.AllocationLogQuery) => api.AllocationLogLine[])
    | undefined;
  #caPem = '';

  constructor(options: RaftClusterServiceOptions) {
    this.#raft = options.raft;
    this.events = options.raft;
    this.#state = options.state;
    this.#keyring = options.keyring;
    this.#wallMs = options.wallMs ?? (() => Date.now());
  }

  status(): api.ClusterStatus {
    const s = this.#raft.status();
    return {
      nodeId: String(s.id),
      role: s.role,
      leaderId: s.leaderId ? String(s.leaderId) : null,
      term: s.term,
      commitIndex: s.commit,
      appliedIndex: this.#state.appliedIndex(),
    };
  }

  async readBarrier(): Promise<void> {
    const { index } = await this.#raft.readBarrier();
    await this.#waitApplied(index);
  }

  async propose(command: api.ClusterCommand): Promise<api.ProposeAck> {
    if (command.type === 'job.register') {
      // Registering the very same spec again is a no-op, as in Nomad: no new version, no
      // rollout (a deploy re-sends unchanged accessories).
      const current = q.getJob(this.#state.db, command.job.name);
      if (
        current?.status === 'running' &&
        canonicalJson(current.spec) === canonicalJson(command.job)
      ) {
        return { index: current.modifyIndex };
      }
      checkCustomCertificates(command.job, (name) => this.readSecret(name), this.#wallMs());
    }
    const [type, data] = this.#commandOf(command);
    return this.proposeState(type, data);
  }

  /**
   * Validates and proposes one state command, stamping `atMs`; resolves once it is
   * applied here. A command that apply rejected (unknown job, used join token) rejects
   * with the recorded code, so callers never mistake a no-op for success.
   */
  async proposeState(
    type: StateCommandType,
    data: Record<string, unknown>,
  ): Promise<api.ProposeAck> {
    const payload = { ...data, atMs: this.#wallMs() };
    const parsed = stateCommands.parse(type, payload);
    if (!parsed.ok) throw parsed.error;
    const { index } = await this.#raft.propose(encodeLogCommand(type, parsed.data), {
      timeoutMs: proposeTimeoutMs,
    });
    await this.#waitApplied(index);
    const rejected = q.findRejectedEntry(this.#state.db, index);
    if (rejected) {
      const code = rejectionCodes[rejected.code] ?? 'conflict';
      throw new BerthError(code, rejected.reason, { rejectedCode: rejected.code });
    }
    return { index };
  }

  listNodes(query: api.ListQuery): api.NodeView[] {
    const voters = new Set(this.#raft.status().conf.voters.map(String));
    return q
      .listNodes(this.#state.db)
      .slice(0, query.limit)
      .map((n) => ({
        id: n.id,
        name: n.name,
        address: n.address,
        status: n.status,
        voter: voters.has(n.id),
        updatedAtMs: n.statusChangedAtMs,
      }));
  }

  listJobs(query: api.ListQuery): api.JobView[] {
    return q.listJobs(this.#state.db).slice(0, query.limit).map(jobView);
  }

  getJob(name: string): api.JobView | null {
    const job = q.getJob(this.#state.db, name);
    return job ? jobView(job) : null;
  }

  jobHistory(name: string, query: api.ListQuery): api.JobVersionView[] {
    return q
      .jobHistory(this.#state.db, name)
      .slice(0, query.limit)
      .map((v) => ({
        name,
        version: v.version,
        spec: v.spec as JobSpec,
        index: v.logIndex,
        registeredAtMs: v.submittedAtMs,
      }));
  }

  listAllocations(query: api.AllocationQuery): api.AllocationView[] {
    return q
      .listAllocations(this.#state.db, { jobId: query.job, nodeId: query.node })
      .slice(0, query.limit)
      .map((a) => ({
        id: a.id,
        job: a.jobId,
        jobVersion: a.jobVersion,
        node: a.nodeId,
        status: a.clientStatus,
        detail: a.clientDetail,
        desired: a.desiredStatus,
        ports: a.ports,
        updatedAtMs: a.modifiedAtMs,
      }));
  }

  listDeployments(query: api.DeploymentQuery): api.DeploymentView[] {
    return q
      .listDeployments(this.#state.db, { jobId: query.job })
      .slice(0, query.limit)
      .map(deploymentView);
  }

  listSecrets(query: api.ListQuery): api.SecretMetaView[] {
    return q
      .listSecrets(this.#state.db)
      .slice(0, query.limit)
      .map((s) => ({ name: s.name, version: s.version, updatedAtMs: s.updatedAtMs }));
  }

  readSecret(name: string): string | null {
    const sealed = q.getSealedSecret(this.#state.db, name);
    if (!sealed) return null;
    return openSecretText(this.#requireKeyring(), name, sealed);
  }

  stateDigest(): { appliedIndex: number; digest: string } {
    return { appliedIndex: this.#state.appliedIndex(), digest: q.stateDigest(this.#state.sqlite) };
  }

  listCertificates(): api.CertificateView[] {
    return certificateViews(this.#state.db, this.#wallMs(), (name) =>
      this.#keyring ? this.readSecret(name) : null,
    );
  }

  async renewCertificate(host: string): Promise<api.ProposeAck> {
    if (!getCertificate(this.#state.db, host)) {
      throw new BerthError('certificate_not_found', `no certificate for ${host} to renew`);
    }
    return this.proposeState('cert_renew_requested', { host });
  }

  listTokens(query: api.ListQuery): api.TokenView[] {
    return q
      .listTokens(this.#state.db)
      .filter((t) => !t.revokedAtMs)
      .slice(0, query.limit)
      .map(tokenView);
  }

  getToken(id: string): api.TokenView | null {
    const token = q.listTokens(this.#state.db).find((t) => t.id === id && !t.revokedAtMs);
    return token ? tokenView(token) : null;
  }

  findToken(hashHex: string): api.TokenPrincipal | null {
    const token = q.findTokenByHash(this.#state.db, hashHex);
    if (!token || token.revokedAtMs) return null;
    if (token.expiresAtMs !== null && token.expiresAtMs <= this.#wallMs()) return null;
    return { id: token.id, role: token.role };
  }

  raftPeers(): api.RaftPeerView[] {
    const addresses = new Map(q.listNodes(this.#state.db).map((n) => [n.id, n.address]));
    return this.#raft.peers().map((p) => ({
      id: p.id,
      address: addresses.get(String(p.id)) ?? '',
      voter: p.role === 'voter',
      leader: p.isLeader,
      matchIndex: p.matchIndex,
      lagEntries: p.lagEntries,
    }));
  }

  async transferLeadership(to: number): Promise<void> {
    const s = this.#raft.status();
    if (s.role !== 'leader') throw new BerthError('not_leader', 'only the leader can hand over');
    if (to === s.id) throw new BerthError('already_leader', `node ${to} is already the leader`);
    if (!s.conf.voters.includes(to))
      throw new BerthError('peer_not_found', `node ${to} is not a voter`);
    this.#raft.transferLeadership(to);
  }

  async removePeer(id: number): Promise<api.ProposeAck> {
    const s = this.#raft.status();
    if (![...s.conf.voters, ...s.conf.learners].includes(id)) {
      throw new BerthError('peer_not_found', `node ${id} is not a member`);
    }
    const { index } = await this.#raft.removeNode(id);
    if (q.getNode(this.#state.db, String(id)))
      await this.proposeState('node_removed', { id: String(id) });
    return { index };
  }

  async promoteDeployment(
    jobName: string,
  ): Promise<{ index: number; deployment: api.DeploymentView }> {
    if (!q.getJob(this.#state.db, jobName))
      throw new BerthError('job_not_found', `no job ${jobName}`);
    const active = q.activeDeploymentOf(this.#state.db, jobName);
    if (!active) {
      throw new BerthError(
        'deployment_not_found',
        `${jobName} has no rollout waiting for promotion`,
      );
    }
    const { index } = await this.proposeState('deployment_promoted', { id: active.id });
    const d =
      q.listDeployments(this.#state.db, { jobId: jobName }).find((x) => x.id === active.id) ??
      active;
    return { index, deployment: deploymentView(d) };
  }

  /** Maintenance on (its routes answer 503 with the message) or off, replicated. */
  async setJobMaintenance(
    jobName: string,
    enabled: boolean,
    message?: string,
  ): Promise<{ index: number; maintenance: api.JobMaintenanceView }> {
    if (!q.getJob(this.#state.db, jobName))
      throw new BerthError('job_not_found', `no job ${jobName}`);
    const { index } = await this.proposeState('job_maintenance', { id: jobName, enabled, message });
    const stored = q.getJob(this.#state.db, jobName)?.maintenanceMessage ?? null;
    return { index, maintenance: { enabled: stored !== null, message: stored } };
  }

  /** The scheduler's plan for `job` against the latest state, committing nothing. */
  async planJob(job: JobSpec): Promise<api.JobPlanView> {
    if (this.#raft.status().role !== 'leader')
      throw new BerthError('not_leader', 'dry runs run on the leader');
    await this.readBarrier();
    return dryRun(this.#state.db, this.#state.appliedIndex(), job as unknown as Job);
  }

  async drainNode(id: string, enable: boolean): Promise<api.ProposeAck> {
    if (!q.getNode(this.#state.db, id)) throw new BerthError('node_not_found', `no node ${id}`);
    return this.proposeState('node_status', { id, status: enable ? 'draining' : 'up' });
  }

  /**
   * Logs of one allocation: from this node's supervisor when it runs here, otherwise from
   * the node that runs it (its API, with the caller's own token).
   */
  async allocationLogs(
    allocId: string,
    query: api.AllocationLogQuery,
  ): Promise<api.AllocationLogs> {
    const alloc = q.getAllocation(this.#state.db, allocId);
    if (!alloc) throw new BerthError('allocation_not_found', `no allocation ${allocId}`);
    if (alloc.nodeId === String(this.#raft.id)) {
      if (!this.#localLogs)
        throw new BerthError('node_unreachable', 'this node runs no supervisor');
      return { lines: this.#localLogs(allocId, query), node: alloc.nodeId };
    }
    const node = q.getNode(this.#state.db, alloc.nodeId);
    if (!node || node.status === 'down') {
      throw new BerthError(
        'node_unreachable',
        `node ${alloc.nodeId}, which runs ${allocId}, is down`,
      );
    }
    return fetchRemoteLogs(`https://${node.apiAddress}`, this.#caPem, allocId, query, alloc.nodeId);
  }

  /** Wires the local log source and the CA used to reach other nodes (set by the agent). */
  attachLogs(
    localLogs: (allocId: string, query: api.AllocationLogQuery) => api.AllocationLogLine[],
    caPem: string,
  ): void {
    this.#localLogs = localLogs;
    this.#caPem = caPem;
  }

  toEvent(entry: LogEntry): api.ClusterEvent | null {
    if (entry.type.startsWith('raft.')) return null;
    return defaultEventOf(entry);
  }

  #commandOf(command: api.ClusterCommand): [StateCommandType, Record<string, unknown>] {
    switch (command.type) {
      case 'job.register':
        return ['job_registered', { id: command.job.name, spec: command.job }];
      case 'job.stop':
        return ['job_stopped', { id: command.name }];
      case 'secret.put': {
        const key = activeKey(this.#requireKeyring());
        return [
          'secret_set',
          { name: command.name, ...sealSecret(key, command.name, command.value) },
        ];
      }
      case 'secret.delete':
        return ['secret_removed', { name: command.name }];
      case 'token.create':
        return [
          'token_created',
          { id: command.id, name: command.name, role: command.role, hash: command.hashHex },
        ];
      case 'token.revoke':
        return ['token_revoked', { id: command.id }];
    }
  }

  #requireKeyring(): Keyring {
    if (!this.#keyring) {
      throw new BerthError(
        'no_keyring',
        'this node holds no secrets keyring (workers do not); ask a voter',
      );
    }
    return this.#keyring;
  }

  /** Waits until the state database has applied `index` (bounded by proposeTimeoutMs). */
  async #waitApplied(index: number): Promise<void> {
    if (this.#state.catchUp() >= index) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new BerthError('timeout', `index ${index} not applied within ${proposeTimeoutMs} ms`),
        );
      }, proposeTimeoutMs);
      const off = this.#state.onApplied((applied) => {
        if (applied < index) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }
}

async function fetchRemoteLogs(
  base: string,
  caPem: string,
  allocId: string,
  query: api.AllocationLogQuery,
  nodeId: string,
): Promise<api.AllocationLogs> {
  const url = new URL(`${base}/v1/allocations/${encodeURIComponent(allocId)}/logs`);
  if (query.tail !== undefined) url.searchParams.set('tail', String(query.tail));
  if (query.sinceMs !== undefined) url.searchParams.set('since', String(query.sinceMs));
  const headers: Record<string, string> = { [forwardedHeader]: 'logs' };
  const authorization = requestContext.getStore()?.authorization;
  if (authorization) headers.authorization = authorization;
  let res: Response;
  try {
    res = await fetch(url, {
      headers,
      tls: { ca: caPem },
      signal: AbortSignal.timeout(5_000),
    } as RequestInit);
  } catch (error) {
    throw new BerthError(
      'node_unreachable',
      `node ${nodeId} did not answer: ${(error as Error).message}`,
    );
  }
  const body = (await res.json().catch(() => null)) as
    | (api.AllocationLogs & { error?: { code: string; message: string } })
    | null;
  if (!res.ok || !body) {
    throw new BerthError(
      body?.error?.code ?? 'node_unreachable',
      body?.error?.message ?? `HTTP ${res.status}`,
    );
  }
  return { lines: body.lines, node: nodeId };
}

function jobView(job: q.JobView): api.JobView {
  return {
    maintenance: { enabled: job.maintenanceMessage !== null, message: job.maintenanceMessage },
    name: job.id,
    version: job.version,
    status: job.status,
    spec: job.spec as JobSpec,
    index: job.modifyIndex,
    updatedAtMs: job.submittedAtMs,
  };
}

function deploymentView(d: ReturnType<typeof q.listDeployments>[number]): api.DeploymentView {
  return {
    id: d.id,
    job: d.jobId,
    jobVersion: d.jobVersion,
    status: d.status,
    detail: d.detail,
    promoted: d.promoted,
    updatedAtMs: d.modifiedAtMs,
  };
}

function tokenView(t: q.TokenView): api.TokenView {
  return { id: t.id, name: t.name, role: t.role, createdAtMs: t.createdAtMs };
}
