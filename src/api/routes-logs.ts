/**
 * Allocation output through the API (`berth logs`):
 *   GET /v1/allocations/:id/logs?tail=N&since=<ms epoch>&follow=true
 *   GET /v1/jobs/:name/logs?tail=N&since=<ms epoch>&follow=true
 *
 * Logs are not replicated: each node keeps a bounded ring of recent lines per allocation,
 * and `ClusterService.allocationLogs` fetches them from the owning node. So these reads
 * take no read barrier (they are not linearizable anyway) and work during an election.
 *
 * Sensitivity: logs are as sensitive as the app's own output. Berth never writes secrets
 * into them, but an app that prints its environment prints its secrets, so a read-only
 * token can read whatever the app printed. Treat read-only tokens accordingly.
 *
 * Without `follow` the answer is JSON: `{ lines, node }` for an allocation, and for a job
 * `{ lines, errors }` where each line carries its `allocId` and `errors` lists allocations
 * whose node could not be reached. With `follow=true` it is NDJSON, one object per line:
 *   {"line":{"stream":"stdout","line":"…","atMs":…}}      (plus "allocId" for a job)
 *   {"skipped":{"allocId":"…","code":"node_unreachable","message":"…"}}   once per outage
 *   {"heartbeat":{"atMs":…}}                                when idle (last line's time)
 *   {"error":{"code":"…","message":"…"}}                   the last line before the end
 * First the requested backlog, then new lines found by polling every apiLogFollowPollMs.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Clock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Logger } from '../core/logger.ts';
import type { Counter } from '../metrics/registry.ts';
import { requireRole } from './auth.ts';
import { parseQuery } from './body.ts';
import type { AllocationLogLine, AllocationLogQuery, ClusterService } from './cluster-service.ts';
import type { ApiDeps } from './deps.ts';
import type { ApiEnv } from './env.ts';
import { errorLine } from './event-feed.ts';
import { NameSchema } from './job-spec.ts';

/** A decimal integer in a query string: no signs, exponents, hex or blanks. */
const digits = (max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(max));

const LogsQuerySchema = z.strictObject({
  tail: digits(limits.apiLogLinesMax).optional(),
  since: digits(Number.MAX_SAFE_INTEGER).optional(),
  follow: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true'),
});
type LogsQuery = z.output<typeof LogsQuerySchema>;

/** A line of a job's merged logs: which allocation printed it. */
export interface TaggedLogLine extends AllocationLogLine {
  allocId?: string;
}

/** An allocation whose lines could not be read this time, and why. */
export interface LogProblem {
  allocId: string;
  node?: string;
  code: string;
  message: string;
}

/** Codes a job's logs tolerate per allocation (it may be gone or its node down). */
const toleratedCodes: ReadonlySet<string> = new Set(['node_unreachable', 'allocation_not_found']);

type LogsFn = NonNullable<ClusterService['allocationLogs']>;

function logsOf(service: ClusterService): LogsFn {
  const fn = service.allocationLogs;
  if (!fn) throw new BerthError('not_implemented', 'logs are not available on this server');
  return fn.bind(service);
}

function allocationNotFound(id: string): BerthError {
  return new BerthError(
    'allocation_not_found',
    `no allocation ${JSON.stringify(id)}; see GET /v1/jobs/<name>/allocations`,
  );
}

/** The newest `count` lines (all when count is undefined). */
function newest<T>(lines: T[], count: number | undefined): T[] {
  const keep = Math.min(count ?? limits.apiLogLinesMax, limits.apiLogLinesMax);
  return lines.length <= keep ? lines : lines.slice(lines.length - keep);
}

/**
 * Remembers how far one allocation's output was sent, so polls with `sinceMs` (inclusive)
 * return nothing twice and lose no line printed in the same millisecond as the last one
 * sent: it counts the lines already sent at the last timestamp and skips that many.
 */
export class LogCursor {
  #lastAtMs = -1;
  #sentAtLast = 0;

  /** The query that returns every line not yet sent (and some already sent). */
  query(): AllocationLogQuery {
    return this.#lastAtMs < 0 ? {} : { sinceMs: this.#lastAtMs };
  }

  get lastAtMs(): number | null {
    return this.#lastAtMs < 0 ? null : this.#lastAtMs;
  }

  /** The lines of `lines` (an answer to `query()`, oldest first) not sent before. */
  fresh<T extends AllocationLogLine>(lines: readonly T[]): T[] {
    const out: T[] = [];
    let skip = this.#sentAtLast;
    const startAtMs = this.#lastAtMs;
    for (const line of lines) {
      // Older lines are ones sent before (or a node clock that stepped back: dropped).
      if (line.atMs < this.#lastAtMs) continue;
      if (line.atMs === startAtMs && skip > 0) {
        skip--;
        continue;
      }
      if (line.atMs === this.#lastAtMs) {
        this.#sentAtLast++;
      } else {
        this.#lastAtMs = line.atMs;
        this.#sentAtLast = 1;
      }
      out.push(line);
    }
    return out;
  }
}

function latest(times: (number | null)[]): number | null {
  const known = times.filter((t): t is number => t !== null);
  return known.length === 0 ? null : Math.max(...known);
}

/** What one poll of a followed log found. */
interface PollResult {
  lines: TaggedLogLine[];
  problems: LogProblem[];
}

/** Reads the logs of `allocIds` concurrently; tolerated failures become problems. */
async function gather(
  logs: LogsFn,
  allocs: readonly { id: string; node?: string }[],
  queryOf: (id: string) => AllocationLogQuery,
): Promise<{ perAlloc: Map<string, AllocationLogLine[]>; problems: LogProblem[] }> {
  const settled = await Promise.allSettled(allocs.map((a) => logs(a.id, queryOf(a.id))));
  const perAlloc = new Map<string, AllocationLogLine[]>();
  const problems: LogProblem[] = [];
  settled.forEach((result, i) => {
    const alloc = allocs[i] as { id: string; node?: string };
    if (result.status === 'fulfilled') {
      perAlloc.set(alloc.id, result.value.lines);
      return;
    }
    const error = result.reason;
    if (!(error instanceof BerthError) || !toleratedCodes.has(error.code)) throw error;
    problems.push({
      allocId: alloc.id,
      node: alloc.node,
      code: error.code,
      message: error.message,
    });
  });
  return { perAlloc, problems };
}

/** Lines of several allocations as one list, oldest first (stable for equal times). */
function merge(perAlloc: Map<string, AllocationLogLine[]>): TaggedLogLine[] {
  const tagged: TaggedLogLine[] = [];
  for (const [allocId, lines] of perAlloc) {
    for (const line of lines) tagged.push({ allocId, ...line });
  }
  return tagged.sort((a, b) => a.atMs - b.atMs);
}

async function jobAllocations(service: ClusterService, job: string) {
  if (!(await service.getJob(job))) {
    throw new BerthError('job_not_found', `no job named ${JSON.stringify(job)}; see GET /v1/jobs`);
  }
  return service.listAllocations({ job, limit: limits.apiLogJobAllocationsMax });
}

/** The lines of one followed allocation; a node outage is a problem, not the end. */
function allocationPoller(logs: LogsFn, allocId: string, cursor: LogCursor) {
  return async (): Promise<PollResult> => {
    const { perAlloc, problems } = await gather(logs, [{ id: allocId }], () => cursor.query());
    const notFound = problems.find((p) => p.code === 'allocation_not_found');
    if (notFound) throw new BerthError(notFound.code, notFound.message);
    return { lines: cursor.fresh(perAlloc.get(allocId) ?? []), problems };
  };
}

/** The merged new lines of a job's allocations, re-listed each poll (deploys add some). */
function jobPoller(
  service: ClusterService,
  logs: LogsFn,
  job: string,
  cursors: Map<string, LogCursor>,
) {
  return async (): Promise<PollResult> => {
    const allocs = await jobAllocations(service, job);
    for (const a of allocs) if (!cursors.has(a.id)) cursors.set(a.id, new LogCursor());
    // Forget allocations the job no longer has, so the map stays bounded by the listing.
    const listed = new Set(allocs.map((a) => a.id));
    for (const id of cursors.keys()) if (!listed.has(id)) cursors.delete(id);
    const { perAlloc, problems } = await gather(logs, allocs, (id) =>
      (cursors.get(id) as LogCursor).query(),
    );
    for (const [id, lines] of perAlloc)
      perAlloc.set(id, (cursors.get(id) as LogCursor).fresh(lines));
    // One answer stays bounded however many allocations printed: the newest lines win.
    return { lines: newest(merge(perAlloc), undefined), problems };
  };
}

/** Where a follow stream starts: the backlog to send first, and how to poll for more. */
interface FollowPlan {
  backlog: TaggedLogLine[];
  problems: LogProblem[];
  /** The newest line time the cursors have covered (sent, or cut by `tail`). */
  coveredAtMs: number | null;
  poll: () => Promise<PollResult>;
}

/**
 * Reads the whole buffered output once (from `since`) so every cursor knows what exists,
 * then sends only the newest `tail` lines of it: without this, `tail=0` would still
 * resend the buffer on the first poll.
 */
async function allocationFollowPlan(logs: LogsFn, id: string, q: LogsQuery): Promise<FollowPlan> {
  const cursor = new LogCursor();
  const first = await logs(id, q.since === undefined ? {} : { sinceMs: q.since });
  return {
    backlog: newest(cursor.fresh(first.lines), q.tail),
    problems: [],
    coveredAtMs: cursor.lastAtMs,
    poll: allocationPoller(logs, id, cursor),
  };
}

async function jobFollowPlan(
  service: ClusterService,
  logs: LogsFn,
  job: string,
  q: LogsQuery,
): Promise<FollowPlan> {
  const cursors = new Map<string, LogCursor>();
  const allocs = await jobAllocations(service, job);
  for (const a of allocs) cursors.set(a.id, new LogCursor());
  const { perAlloc, problems } = await gather(logs, allocs, () =>
    q.since === undefined ? {} : { sinceMs: q.since },
  );
  for (const [id, lines] of perAlloc) perAlloc.set(id, (cursors.get(id) as LogCursor).fresh(lines));
  return {
    backlog: newest(merge(perAlloc), q.tail),
    problems,
    coveredAtMs: latest([...cursors.values()].map((c) => c.lastAtMs)),
    poll: jobPoller(service, logs, job, cursors),
  };
}

function streamResponse(deps: ApiDeps, plan: FollowPlan): Response {
  const release = deps.hub.reserve('ndjson');
  const { clock, heartbeatMs, stallMs } = deps.hub.options;
  const source = new LogFollowSource(plan, {
    clock,
    heartbeatMs,
    stallMs,
    release,
    dropped: deps.streamsDropped,
    logger: deps.logger,
  });
  const body = new ReadableStream<Uint8Array>(
    source,
    new CountQueuingStrategy({ highWaterMark: limits.apiLogStreamQueueLinesMax }),
  );
  return new Response(body, {
    status: 200,
    headers: { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' },
  });
}

export function registerLogRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { service } = deps;

  app.get('/v1/allocations/:id/logs', requireRole('read-only'), async (c) => {
    const id = c.req.param('id');
    const q = parseQuery(c, LogsQuerySchema);
    const logs = logsOf(service);
    if (id.length === 0 || id.length > limits.stateIdLengthMax) throw allocationNotFound(id);
    if (q.follow) return streamResponse(deps, await allocationFollowPlan(logs, id, q));
    const { lines, node } = await logs(id, { tail: q.tail, sinceMs: q.since });
    c.header('Cache-Control', 'no-store');
    return c.json({ lines: newest(lines, q.tail), node });
  });

  app.get('/v1/jobs/:name/logs', requireRole('read-only'), async (c) => {
    const name = c.req.param('name');
    const q = parseQuery(c, LogsQuerySchema);
    const logs = logsOf(service);
    if (!NameSchema.safeParse(name).success) {
      throw new BerthError('job_not_found', `no job named ${JSON.stringify(name)}`);
    }
    if (q.follow) return streamResponse(deps, await jobFollowPlan(service, logs, name, q));
    const allocs = await jobAllocations(service, name);
    const { perAlloc, problems } = await gather(logs, allocs, () => ({
      tail: q.tail,
      sinceMs: q.since,
    }));
    c.header('Cache-Control', 'no-store');
    return c.json({ lines: newest(merge(perAlloc), q.tail), errors: problems });
  });
}

interface FollowOptions {
  clock: Clock;
  heartbeatMs: number;
  stallMs: number;
  /** Frees the stream slot taken from the event hub (streams of all kinds share the bound). */
  release: () => void;
  dropped?: Counter;
  logger: Logger;
}

/**
 * The pull source of one followed log. It polls only when the client has room in its
 * queue (apiLogStreamQueueLinesMax lines), so a slow reader costs back-pressure, not
 * memory; one that reads nothing for `stallMs` is dropped, and every stream ends after
 * apiLogFollowMsMax. Lines a poll found wait in `#pending` (at most one poll's answer,
 * itself bounded by apiLogLinesMax per allocation and merged to apiLogLinesMax).
 */
class LogFollowSource {
  readonly #plan: FollowPlan;
  readonly #o: FollowOptions;
  readonly #encoder = new TextEncoder();
  readonly #startMs: number;
  readonly #failing = new Set<string>();
  #pending: string[] = [];
  #lastAtMs: number | null = null;
  #ended = false;
  #wake: (() => void) | undefined;
  #cancelStall: (() => void) | undefined;

  constructor(plan: FollowPlan, options: FollowOptions) {
    this.#plan = plan;
    this.#o = options;
    this.#startMs = options.clock.nowMs();
    this.#accept({ lines: plan.backlog, problems: plan.problems });
    // Heartbeats and reconnect hints name what the cursors covered, not only what was sent:
    // lines cut by `tail` were skipped on purpose and must not come back on a reconnect.
    this.#lastAtMs = plan.coveredAtMs ?? this.#lastAtMs;
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    this.#cancelStall?.();
    this.#cancelStall = undefined;
    // Enough empty polls to span one heartbeat interval; then a heartbeat shows liveness.
    const pollsMax = Math.ceil(this.#o.heartbeatMs / limits.apiLogFollowPollMs) + 1;
    for (let poll = 0; poll < pollsMax && !this.#ended; poll++) {
      if (this.#pending.length > 0) {
        this.#flush(controller);
        return;
      }
      if (this.#o.clock.nowMs() - this.#startMs >= limits.apiLogFollowMsMax) {
        const message = `followed for the longest allowed (${limits.apiLogFollowMsMax} ms); reconnect with since=${this.#lastAtMs ?? 0}`;
        this.#endWith(controller, errorLine('follow_limit', message));
        return;
      }
      if (!(await this.#sleep(limits.apiLogFollowPollMs))) return;
      try {
        this.#accept(await this.#plan.poll());
      } catch (error) {
        if (!(error instanceof BerthError)) {
          this.#o.logger.error('api: log poll failed', { error: String(error) });
        }
        const known =
          error instanceof BerthError ? error : new BerthError('internal', 'log poll failed');
        this.#endWith(controller, errorLine(known.code, known.message));
        return;
      }
    }
    if (this.#ended) return;
    controller.enqueue(this.#encode({ heartbeat: { atMs: this.#lastAtMs } }));
    this.#armStall(controller);
  }

  cancel(): void {
    this.#finish();
  }

  /** Queues a poll's lines, and a `skipped` notice when an allocation starts failing. */
  #accept(result: PollResult): void {
    const failingNow = new Set(result.problems.map((p) => p.allocId));
    for (const p of result.problems) {
      if (this.#failing.has(p.allocId)) continue;
      this.#pending.push(this.#text({ skipped: p }));
    }
    this.#failing.clear();
    for (const id of failingNow) this.#failing.add(id);
    for (const line of result.lines) {
      this.#pending.push(this.#text({ line }));
      this.#lastAtMs = Math.max(this.#lastAtMs ?? line.atMs, line.atMs);
    }
  }

  #flush(controller: ReadableStreamDefaultController<Uint8Array>): void {
    const room = Math.max(1, controller.desiredSize ?? 1);
    const batch = this.#pending.splice(0, room);
    for (const text of batch) controller.enqueue(this.#encoder.encode(text));
    this.#armStall(controller);
  }

  /** Resolves true after `delayMs`, or false as soon as the stream ends. */
  #sleep(delayMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const cancelTimer = this.#o.clock.setTimer(delayMs, () => {
        this.#wake = undefined;
        resolve(true);
      });
      this.#wake = () => {
        cancelTimer();
        resolve(false);
      };
    });
  }

  /** With the queue full, starts the timer that drops a client that never reads again. */
  #armStall(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if ((controller.desiredSize ?? 0) > 0) return;
    const { clock, stallMs } = this.#o;
    this.#cancelStall = clock.setTimer(stallMs, () => {
      if (this.#ended) return;
      this.#o.dropped?.inc({ transport: 'ndjson', reason: 'slow_consumer' });
      const message = `dropped: the client read nothing for ${stallMs} ms; reconnect with since=${this.#lastAtMs ?? 0}`;
      this.#endWith(controller, errorLine('slow_consumer', message));
    });
  }

  /** Ends the stream with a last line (past the bound: it is the only extra one). */
  #endWith(controller: ReadableStreamDefaultController<Uint8Array>, line: string): void {
    if (this.#ended) return;
    controller.enqueue(this.#encoder.encode(line));
    controller.close();
    this.#finish();
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#pending = [];
    this.#cancelStall?.();
    this.#wake?.();
    this.#o.release();
  }

  #text(value: unknown): string {
    return `${JSON.stringify(value)}\n`;
  }

  #encode(value: unknown): Uint8Array {
    return this.#encoder.encode(this.#text(value));
  }
}
