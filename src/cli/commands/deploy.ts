/**
 * `berth deploy`, `berth plan` and `berth rollback` (DESIGN.md §4): the spec is parsed and
 * validated locally (errors with file:line:column, nothing sent), each job document is
 * registered through `POST /v1/jobs`, and the rollout is followed by polling the job's
 * allocations and deployments until the new version is healthy, fails, or times out.
 */
import { BerthError } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import { formatDurationMs, type Job, parseDurationMs, parseJobSpec } from '../../spec/index.ts';
import { flagString, type ParsedArgs } from '../args.ts';
import type { ApiClient } from '../client.ts';
import type { Output } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, itemsOf, positionals, readTextFile, segment } from './shared.ts';

/** Default of `--timeout`: how long deploy and rollback follow a rollout. */
const followTimeoutMsDefault = 10 * 60_000;

/** What the follow loop needs to know about one registered job version. */
export interface FollowTarget {
  name: string;
  version: number;
  type: Job['type'];
  /** Allocations wanted (ignored for system jobs: one per eligible node). */
  count: number;
}

interface AllocationView {
  id: string;
  jobVersion: number;
  node: string;
  status: string;
  /** Not in every server's view yet; shown when present. */
  detail?: string;
}

interface DeploymentView {
  id: string;
  jobVersion: number;
  status: string;
  detail?: string;
}

/** One job's rollout as last observed. */
export interface TargetProgress {
  target: FollowTarget;
  /** New-version allocations by status. */
  counts: Record<string, number>;
  /** How many count toward done: `healthy` (service, system) or `complete` (batch). */
  good: number;
  done: boolean;
  failedAllocation: AllocationView | null;
  failedDeployment: DeploymentView | null;
}

export type FollowResult =
  | { outcome: 'succeeded'; progress: TargetProgress[] }
  | { outcome: 'failed'; failed: TargetProgress; progress: TargetProgress[] }
  | { outcome: 'timed_out'; progress: TargetProgress[] };

export interface FollowOptions {
  timeoutMs: number;
  /** Interval between polls, in ms (limits.cliFollowPollMs by default). */
  pollMs?: number;
}

/**
 * Polls each target's allocations and deployments until every target is done, one fails,
 * or the timeout passes. Prints a progress line whenever a target's counts change (not
 * with --json). The number of polls is bounded by timeout / interval.
 */
export async function followRollout(
  client: ApiClient,
  out: Output,
  targets: readonly FollowTarget[],
  options: FollowOptions,
): Promise<FollowResult> {
  const pollMs = options.pollMs ?? limits.cliFollowPollMs;
  const deadlineMs = Date.now() + options.timeoutMs;
  const pollsMax = Math.ceil(options.timeoutMs / pollMs) + 1;
  const printed = new Map<string, string>();
  let progress: TargetProgress[] = [];
  let failedPolls = 0;
  for (let poll = 0; poll < pollsMax; poll++) {
    try {
      progress = await observeAll(client, out, targets, failedPolls + 1 >= pollFailuresMax);
      failedPolls = 0;
    } catch (error) {
      // A poll that meets an election or a restarting node is retried: the rollout goes
      // on in the cluster regardless. Only repeated failures end the follow.
      if (!isTransient(error) || ++failedPolls >= pollFailuresMax) throw error;
      await sleep(pollMs, out.signal);
      continue;
    }
    for (const p of progress) {
      const line = progressLine(p);
      if (!out.json && printed.get(p.target.name) !== line) out.out(line);
      printed.set(p.target.name, line);
    }
    const failed = progress.find((p) => p.failedAllocation || p.failedDeployment);
    if (failed) return { outcome: 'failed', failed, progress };
    if (progress.every((p) => p.done)) return { outcome: 'succeeded', progress };
    const leftMs = deadlineMs - Date.now();
    if (leftMs <= 0) break;
    await sleep(Math.min(pollMs, leftMs), out.signal);
  }
  return { outcome: 'timed_out', progress };
}

/** Consecutive failed polls that end a follow. */
const pollFailuresMax = 10;

const transientCodes = new Set([
  'no_leader',
  'not_leader',
  'unreachable',
  'forward_failed',
  'timeout',
  'node_unreachable',
]);

function isTransient(error: unknown): boolean {
  return error instanceof BerthError && transientCodes.has(error.code);
}

/** One poll of every target. A final failed poll ends the follow, not the rollout: say so. */
async function observeAll(
  client: ApiClient,
  out: Output,
  targets: readonly FollowTarget[],
  last: boolean,
): Promise<TargetProgress[]> {
  try {
    return await Promise.all(targets.map((target) => observe(client, target)));
  } catch (error) {
    if (isTransient(error) && !last) throw error;
    const name = targets.at(-1)?.name ?? '';
    out.err(
      `stopped following: the rollout goes on in the cluster; check it with \`berth job status ${name}\``,
    );
    throw error;
  }
}

async function observe(client: ApiClient, target: FollowTarget): Promise<TargetProgress> {
  const [allocs, deploys] = await Promise.all([
    client.request(`/v1/jobs/${segment(target.name)}/allocations`),
    client.request('/v1/deployments', { query: { job: target.name } }),
  ]);
  const allocations = itemsOf<AllocationView>(allocs, 'allocation').filter(
    (a) => a.jobVersion === target.version,
  );
  const deployments = itemsOf<DeploymentView>(deploys, 'deployment');
  return judge(target, allocations, deployments);
}

/** Pure: the state of one target's rollout from its new-version allocations. */
export function judge(
  target: FollowTarget,
  allocations: readonly AllocationView[],
  deployments: readonly DeploymentView[],
): TargetProgress {
  const counts: Record<string, number> = {};
  for (const a of allocations) counts[a.status] = (counts[a.status] ?? 0) + 1;
  const good = counts[target.type === 'batch' ? 'complete' : 'healthy'] ?? 0;
  const done =
    target.type === 'system'
      ? allocations.length > 0 && good === allocations.length
      : good >= target.count;
  return {
    target,
    counts,
    good,
    done,
    failedAllocation: allocations.find((a) => a.status === 'failed') ?? null,
    failedDeployment:
      deployments.find((d) => d.jobVersion === target.version && d.status === 'failed') ?? null,
  };
}

/** `web v3: 2/3 healthy, 1 pending`. */
export function progressLine(p: TargetProgress): string {
  const { target } = p;
  const goodWord = target.type === 'batch' ? 'complete' : 'healthy';
  const wanted =
    target.type === 'system' ? Object.values(p.counts).reduce((a, b) => a + b, 0) : target.count;
  const others = Object.keys(p.counts)
    .filter((status) => status !== goodWord)
    .sort()
    .map((status) => `${p.counts[status]} ${status}`);
  const waiting = Object.keys(p.counts).length === 0 && !p.done ? ['waiting for placement'] : [];
  const parts = [`${p.good}/${wanted} ${goodWord}`, ...others, ...waiting];
  return `${target.name} v${target.version}: ${parts.join(', ')}`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) throw new BerthError('cancelled', 'cancelled');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new BerthError('cancelled', 'stopped following; the rollout goes on without you'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What to tell the user when a rollout did not succeed, and what to do next. */
function failureText(result: FollowResult, timeoutMs: number): string {
  if (result.outcome === 'succeeded') return '';
  if (result.outcome === 'failed') {
    const { failed } = result;
    const name = failed.target.name;
    const what = failed.failedAllocation
      ? `allocation ${failed.failedAllocation.id} on ${failed.failedAllocation.node} is ${failed.failedAllocation.status}${failed.failedAllocation.detail ? `: ${failed.failedAllocation.detail}` : ''}`
      : `deployment ${failed.failedDeployment?.id} is ${failed.failedDeployment?.status}${failed.failedDeployment?.detail ? ` (${failed.failedDeployment.detail})` : ''}`;
    return `${name} v${failed.target.version} failed: ${what}. See \`berth job status ${name}\`; to go back run \`berth rollback ${name}\`.`;
  }
  const pending = result.progress.filter((p) => !p.done);
  const name = pending[0]?.target.name ?? result.progress[0]?.target.name ?? '';
  const state = pending.map(progressLine).join('; ');
  return `timed out after ${formatDurationMs(timeoutMs)} (${state}). The rollout may still finish: see \`berth job status ${name}\`; to go back run \`berth rollback ${name}\`.`;
}

/** A registered version: what deploy and rollback print and summarise. */
interface Registered {
  name: string;
  version: number;
  index: number;
}

/** Follows (unless detached) and reports: one JSON summary with --json, lines otherwise. */
async function followAndReport(
  args: ParsedArgs,
  out: Output,
  client: ApiClient,
  registered: Registered[],
  targets: FollowTarget[],
): Promise<number> {
  if (args.flags.detach) {
    if (out.json) out.out(JSON.stringify({ outcome: 'detached', registered }, null, 2));
    return exitCode.ok;
  }
  const timeoutMs = timeoutFlag(args);
  const result = await followRollout(client, out, targets, { timeoutMs });
  if (out.json) {
    const progress = result.progress.map((p) => ({
      ...p.target,
      counts: p.counts,
      done: p.done,
    }));
    const failed =
      result.outcome === 'failed'
        ? {
            job: result.failed.target.name,
            allocation: result.failed.failedAllocation,
            deployment: result.failed.failedDeployment,
          }
        : undefined;
    out.out(JSON.stringify({ outcome: result.outcome, registered, progress, failed }, null, 2));
  }
  if (result.outcome === 'succeeded') {
    if (!out.json) out.out(`rollout complete: ${registered.map(versionText).join(', ')}`);
    return exitCode.ok;
  }
  out.err(failureText(result, timeoutMs));
  return exitCode.failed;
}

function versionText(r: Registered): string {
  return `${r.name} v${r.version}`;
}

/** `--timeout 10m`: a duration with its unit, at most limits.cliFollowTimeoutMsMax. */
function timeoutFlag(args: ParsedArgs): number {
  const raw = flagString(args, 'timeout');
  if (raw === undefined) return followTimeoutMsDefault;
  const ms = parseDurationMs(raw);
  if (ms === null || ms <= 0 || ms > limits.cliFollowTimeoutMsMax) {
    throw new BerthError(
      'usage',
      `--timeout must be a duration with a unit between 1ms and 24h (e.g. 30s, 10m), got "${raw}"`,
    );
  }
  return ms;
}

type ParsedSpec = Extract<ReturnType<typeof parseJobSpec>, { ok: true }>;

/**
 * Reads and validates `-f FILE` locally. A spec with errors prints every error with its
 * `file:line:column` and yields null: nothing may be sent.
 */
async function readSpec(args: ParsedArgs, out: Output, usage: string): Promise<ParsedSpec | null> {
  positionals(args, usage, []);
  const file = flagString(args, 'file');
  if (file === undefined) throw new BerthError('usage', `missing -f FILE; usage: ${usage}`);
  const parsed = parseJobSpec(await readTextFile(file), file);
  if (parsed.ok) return parsed;
  out.err(parsed.report);
  out.err(`${file}: nothing was sent; fix the errors above and run the command again`);
  if (out.json)
    out.out(JSON.stringify({ outcome: 'invalid_spec', errors: parsed.errors }, null, 2));
  return null;
}

interface RegisterAnswer {
  index: number;
  version: number;
  job: { name: string; version: number } | null;
}

/**
 * Registers every document of the spec: accessories first (the main job may need them as
 * soon as it starts), then the main job. A failure part-way says what was registered.
 */
async function registerAll(
  client: ApiClient,
  out: Output,
  spec: ParsedSpec,
): Promise<{ registered: Registered[]; targets: FollowTarget[] }> {
  const order = [...spec.documents.keys()].slice(1).concat(0);
  const registered: Registered[] = [];
  const targets: FollowTarget[] = [];
  for (const i of order) {
    const job = spec.jobs[i]!;
    let answer: RegisterAnswer;
    try {
      answer = await client.request<RegisterAnswer>('/v1/jobs', {
        method: 'POST',
        body: spec.documents[i],
      });
    } catch (error) {
      const done = registered.length > 0 ? registered.map(versionText).join(', ') : 'nothing';
      out.err(`registering ${job.name} failed; registered so far: ${done}`);
      throw error;
    }
    const entry = { name: job.name, version: answer.version, index: answer.index };
    registered.push(entry);
    targets.push({ name: job.name, version: answer.version, type: job.type, count: job.count });
    if (!out.json) out.out(`registered ${versionText(entry)} (log index ${entry.index})`);
  }
  return { registered, targets };
}

const followFlags = [
  { name: 'detach', boolean: true, help: 'return once registered; do not follow the rollout' },
  { name: 'timeout', help: 'how long to follow the rollout before exiting 1 (default 10m)' },
];

const deployCommand: Command = {
  path: ['deploy'],
  summary: 'register a job spec (with its accessories) and follow the rollout',
  usage: 'berth deploy -f FILE [--detach] [--timeout 10m] [--json]',
  flags: [{ name: 'file', short: 'f', help: 'the job spec (YAML)' }, ...followFlags],
  async run(args, out) {
    const spec = await readSpec(args, out, this.usage);
    if (!spec) return exitCode.usage;
    timeoutFlag(args);
    const client = clientFor(args, out);
    const { registered, targets } = await registerAll(client, out, spec);
    return followAndReport(args, out, client, registered, targets);
  },
};

interface RevertAnswer {
  index: number;
  version: number;
  revertedTo: number;
  job: { name: string; spec: Pick<Job, 'type' | 'count'> };
}

const rollbackCommand: Command = {
  path: ['rollback'],
  summary: 'register an earlier version of a job again (default: the previous one) and follow it',
  usage: 'berth rollback NAME [VERSION] [--detach] [--timeout 10m] [--json]',
  flags: followFlags,
  async run(args, out) {
    const got = args.positionals;
    if (got.length === 0) throw new BerthError('usage', `missing NAME; usage: ${this.usage}`);
    if (got.length > 2) {
      throw new BerthError('usage', `unexpected argument "${got[2]}"; usage: ${this.usage}`);
    }
    const [name, rawVersion] = got as [string, string | undefined];
    const version = rawVersion === undefined ? undefined : Number(rawVersion);
    if (version !== undefined && (!/^\d+$/.test(rawVersion!) || version < 1)) {
      throw new BerthError(
        'usage',
        `VERSION must be a positive whole number, got "${rawVersion}"; see \`berth job history ${name}\``,
      );
    }
    timeoutFlag(args);
    const client = clientFor(args, out);
    const answer = await client.request<RevertAnswer>(`/v1/jobs/${segment(name)}/revert`, {
      method: 'POST',
      body: version === undefined ? {} : { version },
    });
    const entry = { name, version: answer.version, index: answer.index };
    if (!out.json) {
      out.out(
        `rolled back ${name} to the spec of v${answer.revertedTo}: registered ${versionText(entry)} (log index ${entry.index})`,
      );
    }
    const { type, count } = answer.job.spec;
    const target = { name, version: answer.version, type, count };
    return followAndReport(args, out, client, [entry], [target]);
  },
};

/** Job fields whose change replaces running allocations (a new container or process). */
const destructiveFields = new Set([
  'type',
  'driver',
  'env',
  'secrets',
  'resources',
  'ports',
  'volumes',
]);

/** One changed top-level field; `from`/`to` for the ones short enough to show. */
export interface FieldChange {
  field: string;
  from?: string;
  to?: string;
}

export interface JobPlan {
  name: string;
  action: 'create' | 'update' | 'none';
  /** For updates: how running allocations are affected. */
  update: 'destructive' | 'in-place' | 'scale' | null;
  changes: FieldChange[];
  /** The current job is stopped: registering starts it again. */
  wasStopped: boolean;
}

/** Pure: what registering `next` would change relative to the stored `current` spec. */
export function planJob(
  next: Job,
  current: { status: string; spec: Record<string, unknown> } | null,
): JobPlan {
  if (!current) {
    return { name: next.name, action: 'create', update: null, changes: [], wasStopped: false };
  }
  const changes: FieldChange[] = [];
  const old = current.spec;
  for (const [field, value] of Object.entries(next)) {
    if (canonical(value) !== canonical(old[field]))
      changes.push(describeChange(field, old[field], value));
  }
  const wasStopped = current.status === 'stopped';
  if (changes.length === 0) {
    return { name: next.name, action: 'none', update: null, changes, wasStopped };
  }
  const fields = changes.map((c) => c.field);
  const update = fields.some((f) => destructiveFields.has(fieldKey(f)))
    ? 'destructive'
    : fields.every((f) => f === 'count')
      ? 'scale'
      : 'in-place';
  return { name: next.name, action: 'update', update, changes, wasStopped };
}

/** `image`/`command` are shown under their own names; both live in `driver`. */
function fieldKey(field: string): string {
  return field === 'image' || field === 'command' ? 'driver' : field;
}

function describeChange(field: string, from: unknown, to: unknown): FieldChange {
  if (field === 'count' || field === 'type') return { field, from: String(from), to: String(to) };
  if (field === 'driver') {
    const a = from as Job['driver'] | undefined;
    const b = to as Job['driver'];
    if (a?.kind === 'docker' && b.kind === 'docker') {
      return { field: 'image', from: a.image, to: b.image };
    }
    if (a?.kind === 'exec' && b.kind === 'exec') return { field: 'command' };
  }
  return { field };
}

/** JSON with sorted keys, so two equal specs compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function planText(plan: JobPlan, next: Job, currentCount: number | null): string {
  const stopped = plan.wasStopped ? ' (currently stopped: registering starts it again)' : '';
  if (plan.action === 'create') return `${plan.name}: new job (place ${next.count})`;
  if (plan.action === 'none') return `${plan.name}: no change${stopped}`;
  const how = {
    destructive: 'destructive: allocations are replaced',
    'in-place': 'in-place: allocations keep running',
    scale: 'scale only',
  }[plan.update!];
  const lines = [`${plan.name}: update (${how})${stopped}`];
  for (const change of plan.changes) {
    if (change.field === 'count' && currentCount !== null) {
      const delta = next.count - currentCount;
      const step = delta > 0 ? `place ${delta}` : `stop ${-delta}`;
      lines.push(`  count: ${change.from} → ${change.to} (${step})`);
    } else if (change.from !== undefined) {
      lines.push(`  ${change.field}: ${change.from} → ${change.to}`);
    } else {
      lines.push(`  ${change.field}: changed`);
    }
  }
  return lines.join('\n');
}

interface StoredJob {
  status: string;
  spec: Record<string, unknown> & { count?: number };
}

async function currentJob(client: ApiClient, name: string): Promise<StoredJob | null> {
  try {
    return await client.request<StoredJob>(`/v1/jobs/${segment(name)}`);
  } catch (error) {
    if (error instanceof BerthError && error.code === 'job_not_found') return null;
    throw error;
  }
}

interface ServerPlan {
  job: string;
  version: number;
  changed: boolean;
  place: { name: string; node: string }[];
  stop: { id: string; node: string; reason: string }[];
  inPlaceUpdate: { id: string; node: string }[];
  destructiveUpdate: { stop: string; place: { name: string; node: string } }[];
  blocked?: { reason: string; unplaced: number };
}

/** The scheduler's dry run for one job document; null when the server has none (501). */
async function serverPlan(client: ApiClient, document: unknown): Promise<ServerPlan | null> {
  try {
    return await client.request<ServerPlan>('/v1/jobs/plan', { method: 'POST', body: document });
  } catch (error) {
    if (error instanceof BerthError && error.code === 'not_implemented') return null;
    throw error;
  }
}

function serverPlanText(p: ServerPlan): string {
  const nodes = (items: { node: string }[]) =>
    items.length === 0 ? '' : ` (on node ${[...new Set(items.map((i) => i.node))].join(', ')})`;
  const lines = [
    `  scheduler, first step of the rollout for v${p.version}:`,
    `    place ${p.place.length}${nodes(p.place)}, stop ${p.stop.length}, update in place ${p.inPlaceUpdate.length}, replace ${p.destructiveUpdate.length}${nodes(p.destructiveUpdate.map((d) => d.place))}`,
  ];
  if (p.blocked)
    lines.push(`    blocked: ${p.blocked.unplaced} cannot be placed (${p.blocked.reason})`);
  return lines.join('\n');
}

const planCommand: Command = {
  path: ['plan'],
  summary:
    "show what `berth deploy -f FILE` would change — the spec diff and the scheduler's dry run — without registering",
  usage: 'berth plan -f FILE [--json]',
  flags: [{ name: 'file', short: 'f', help: 'the job spec (YAML)' }],
  async run(args, out) {
    const spec = await readSpec(args, out, this.usage);
    if (!spec) return exitCode.usage;
    const client = clientFor(args, out);
    const plans: (JobPlan & { scheduler: ServerPlan | null })[] = [];
    const texts: string[] = [];
    for (const [i, job] of spec.jobs.entries()) {
      const current = await currentJob(client, job.name);
      const plan = planJob(job, current);
      const scheduler = await serverPlan(client, spec.documents[i]);
      plans.push({ ...plan, scheduler });
      texts.push(planText(plan, job, current?.spec.count ?? null));
      if (scheduler) texts.push(serverPlanText(scheduler));
    }
    const note = 'Nothing was registered.';
    if (out.json) out.out(JSON.stringify(plans, null, 2));
    else out.out(`${texts.join('\n')}\n\n${note}`);
    return exitCode.ok;
  },
};

export const deployCommands: Command[] = [deployCommand, planCommand, rollbackCommand];
