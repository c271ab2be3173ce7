/**
 * A Wing–Gong linearizability checker (with Lowe's memoization, as in porcupine) for a
 * key-value register: writes set a key, reads return its current value or null.
 *
 * Keys are independent registers, so the history is partitioned by key and each key is
 * searched on its own (P-compositionality): the search is exponential in the number of
 * concurrent operations, and partitioning keeps each search small.
 *
 * An operation with an unknown outcome is given a response time of +infinity: it may be
 * linearized anywhere after its invocation, including after every other operation, which
 * is the same as never having taken effect. Unknown reads are dropped (they constrain
 * nothing). The search is bounded by `limits.linearizabilityStepsMax`; past it the answer
 * is "inconclusive", never a guess.
 */
import { limits } from '../core/limits.ts';
import type { CheckResult, KvOp } from './history.ts';

/** One call or return event in the doubly linked list the search walks. */
interface Entry {
  kind: 'call' | 'return';
  opId: number;
  timeMs: number;
  /** For a call: its matching return entry. */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

interface KeyOutcome {
  kind: 'ok' | 'violation' | 'inconclusive';
  stepsUsed: number;
}

/** Checks a whole history; the first key that fails decides the answer. */
export function checkKvHistory(
  history: readonly KvOp[],
  stepsMax: number = limits.linearizabilityStepsMax,
): CheckResult {
  const byKey = new Map<string, KvOp[]>();
  for (const op of history) {
    if (op.kind === 'read' && op.outcome === 'unknown') continue;
    const ops = byKey.get(op.key) ?? [];
    ops.push(op);
    byKey.set(op.key, ops);
  }
  let inconclusive: CheckResult | undefined;
  let total = 0;
  for (const [key, ops] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    total += ops.length;
    if (ops.length > limits.linearizabilityOpsPerKeyMax) {
      const message = `${ops.length} operations on one key exceed linearizabilityOpsPerKeyMax`;
      inconclusive ??= { kind: 'inconclusive', key, ops: ops.length, stepsUsed: 0, message };
      continue;
    }
    const outcome = checkRegister(ops, stepsMax);
    if (outcome.kind === 'violation') {
      const message = `no linearization of the ${ops.length} operations on key ${JSON.stringify(key)}`;
      return { kind: 'violation', key, ops: ops.length, message };
    }
    if (outcome.kind === 'inconclusive') {
      const message = `search gave up after ${outcome.stepsUsed} steps (linearizabilityStepsMax)`;
      inconclusive ??= {
        kind: 'inconclusive',
        key,
        ops: ops.length,
        stepsUsed: outcome.stepsUsed,
        message,
      };
    }
  }
  return inconclusive ?? { kind: 'linearizable', keys: byKey.size, ops: total };
}

/**
 * Builds the event list: calls and returns sorted by time. At equal times a call sorts
 * before a return, so two operations that touch the same instant count as concurrent —
 * the lenient choice, which can hide a violation but never invent one.
 */
function buildEntries(ops: readonly KvOp[]): Entry | undefined {
  const events: Entry[] = [];
  ops.forEach((op, opId) => {
    const ret: Entry = {
      kind: 'return',
      opId,
      timeMs: returnTime(op),
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    events.push(
      { kind: 'call', opId, timeMs: op.invokeMs, match: ret, prev: undefined, next: undefined },
      ret,
    );
  });
  events.sort(
    (a, b) =>
      a.timeMs - b.timeMs || (a.kind === b.kind ? a.opId - b.opId : a.kind === 'call' ? -1 : 1),
  );
  const head: Entry = {
    kind: 'call',
    opId: -1,
    timeMs: -Infinity,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function returnTime(op: KvOp): number {
  return op.outcome === 'unknown' ? Number.POSITIVE_INFINITY : op.responseMs;
}

/** Removes a call and its return from the list (the operation is linearized). */
function lift(call: Entry): void {
  unlink(call);
  if (call.match) unlink(call.match);
}

function unlink(e: Entry): void {
  if (e.prev) e.prev.next = e.next;
  if (e.next) e.next.prev = e.prev;
}

/** Puts a lifted call and its return back, in the reverse order of `lift`. */
function unlift(call: Entry): void {
  const ret = call.match;
  if (ret) {
    if (ret.prev) ret.prev.next = ret;
    if (ret.next) ret.next.prev = ret;
  }
  if (call.prev) call.prev.next = call;
  if (call.next) call.next.prev = call;
}

/** The register's transition: a write always applies; a read applies if it saw `state`. */
function step(state: string | null, op: KvOp): { ok: boolean; state: string | null } {
  if (op.kind === 'write') return { ok: true, state: op.value };
  return { ok: op.value === state, state };
}

/** Searches one key's history for a linearization (Wing–Gong with a seen-set). */
function checkRegister(ops: readonly KvOp[], stepsMax: number): KeyOutcome {
  const head = buildEntries(ops) as Entry;
  const linearized = new Uint8Array(ops.length);
  const seen = new Set<string>();
  const stack: { call: Entry; state: string | null }[] = [];
  let state: string | null = null;
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > stepsMax) return { kind: 'inconclusive', stepsUsed: steps - 1 };
    if (entry !== undefined && entry.kind === 'call') {
      const op = ops[entry.opId] as KvOp;
      const next = step(state, op);
      if (next.ok) {
        linearized[entry.opId] = 1;
        const key = `${stateKey(next.state)}|${Buffer.from(linearized).toString('base64')}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = next.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.opId] = 0;
      }
      entry = entry.next;
      continue;
    }
    // A return whose call is not linearized yet (or the end): this branch is dead, backtrack.
    const top = stack.pop();
    if (top === undefined) return { kind: 'violation', stepsUsed: steps };
    state = top.state;
    linearized[top.call.opId] = 0;
    unlift(top.call);
    entry = top.call.next;
  }
  return { kind: 'ok', stepsUsed: steps };
}

function stateKey(state: string | null): string {
  return state === null ? '∅' : JSON.stringify(state);
}
