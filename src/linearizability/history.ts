/**
 * The history a client records for the key-value register model: one operation per
 * request, with the times it was sent and answered. Times are any monotonic clock in ms
 * (e.g. `performance.now()`); only their order matters.
 */

/** What a client knows about how an operation ended. */
export type OpOutcome =
  /** The server answered: the operation took effect (a write) or returned `value` (a read). */
  | 'ok'
  /**
   * No answer (timeout, reset): the operation may or may not have taken effect, at any
   * time after its invocation. Only writes matter here; an unknown read constrains nothing.
   */
  | 'unknown';

export interface KvOp {
  /** Which client issued it (for messages only). */
  client: number;
  kind: 'write' | 'read';
  key: string;
  /** For a write: the value written. For an ok read: the value read; null means "absent". */
  value: string | null;
  invokeMs: number;
  /** When the answer arrived; ignored when `outcome` is `unknown`. */
  responseMs: number;
  outcome: OpOutcome;
}

/** The checker's answer for a whole history. */
export type CheckResult =
  | { kind: 'linearizable'; keys: number; ops: number }
  | { kind: 'violation'; key: string; ops: number; message: string }
  | { kind: 'inconclusive'; key: string; ops: number; stepsUsed: number; message: string };
