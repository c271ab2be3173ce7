/** A linearizability checker for key-value register histories (see kv-register.ts). */

export type { CheckResult, KvOp, OpOutcome } from './history.ts';
export { checkKvHistory } from './kv-register.ts';
