/**
 * The `state` actor (DESIGN.md §1): a LogActor that applies every committed state command
 * (actors/state/commands.ts) to the node's SQLite state, in the same transaction that
 * moves its cursor (src/mailbox/log-consumer.ts).
 *
 * Apply is deterministic and total: it reads only the entry and the database, never the
 * clock or randomness, and never throws on a well-formed entry. An entry that the current
 * state makes meaningless (a status for an unknown allocation, a used join token) is
 * applied as a no-op and recorded in `rejected_entries` with a stable code, so every node
 * records the same rejection and the proposer can find out why.
 */
import { sql } from 'drizzle-orm';
import {
  type StateCommandType,
  type StateEntry,
  type StateKinds,
  stateCommandTypes,
} from '../../actors/state/commands.ts';
import type { Verdict } from '../../actors/state/rules.ts';
import { limits } from '../core/limits.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { LogActor, StateTx } from '../mailbox/log-consumer.ts';
import { rejectedEntries, stateMeta } from '../storage/state-schema.ts';
import {
  applyJoinTokenCreated,
  applyJoinTokenUsed,
  applySecretRemoved,
  applySecretSet,
  applyTokenCreated,
  applyTokenRevoked,
} from './apply-access.ts';
import {
  applyAcmeChallengeCleared,
  applyAcmeChallengeSet,
  applyCertificateIssued,
  applyCertOrderFailed,
  applyCertOrderStarted,
  applyCertRenewRequested,
} from './apply-certs.ts';
import {
  applyEvaluationCreated,
  applyEvaluationUpdated,
  applyJobMaintenance,
  applyJobRegistered,
  applyJobStopped,
} from './apply-jobs.ts';
import { applyNodeRegistered, applyNodeRemoved, applyNodeStatus } from './apply-nodes.ts';
import {
  applyAllocationStatus,
  applyDeploymentPromoted,
  applyDeploymentStatus,
  applyPlanCommitted,
} from './apply-plans.ts';

/** The state actor's key in `actor_cursors`. */
export const stateActorName = 'state';

type Handlers = { [T in StateCommandType]: (tx: StateTx, entry: StateEntry<T>) => Verdict };

/** One handler per command; the mapped type makes a missing command a compile error. */
const handlers: Handlers = {
  node_registered: applyNodeRegistered,
  node_status: applyNodeStatus,
  node_removed: applyNodeRemoved,
  job_registered: applyJobRegistered,
  job_stopped: applyJobStopped,
  plan_committed: applyPlanCommitted,
  allocation_status: applyAllocationStatus,
  deployment_status: applyDeploymentStatus,
  evaluation_created: applyEvaluationCreated,
  evaluation_updated: applyEvaluationUpdated,
  secret_set: applySecretSet,
  secret_removed: applySecretRemoved,
  token_created: applyTokenCreated,
  token_revoked: applyTokenRevoked,
  join_token_created: applyJoinTokenCreated,
  join_token_used: applyJoinTokenUsed,
  deployment_promoted: applyDeploymentPromoted,
  job_maintenance: applyJobMaintenance,
  cert_order_started: applyCertOrderStarted,
  acme_challenge_set: applyAcmeChallengeSet,
  acme_challenge_cleared: applyAcmeChallengeCleared,
  certificate_issued: applyCertificateIssued,
  cert_order_failed: applyCertOrderFailed,
  cert_renew_requested: applyCertRenewRequested,
};

export interface StateMachineOptions {
  /** Rejections are logged at info with index, type and code (never the payload). */
  logger?: Logger;
}

/** Creates the state actor, to be hosted by a LogConsumer over the node's committed log. */
export function createStateMachine(
  options: StateMachineOptions = {},
): LogActor<StateKinds, StateCommandType> {
  const logger = (options.logger ?? silentLogger).child({ actor: stateActorName });
  return {
    name: stateActorName,
    consumes: stateCommandTypes,
    apply(tx, entry) {
      const verdict = applyStateEntry(tx, entry);
      if (!verdict.ok) {
        logger.info('state entry rejected', {
          index: entry.index,
          type: entry.type,
          code: verdict.code,
        });
      }
    },
  };
}

/**
 * Applies one entry and records the state machine's position; a rejection is recorded
 * instead of the entry's effects. Exported for tests and tools that drive apply directly.
 */
export function applyStateEntry(tx: StateTx, entry: StateEntry): Verdict {
  const handler = handlers[entry.type] as (tx: StateTx, entry: StateEntry) => Verdict;
  const verdict = handler(tx, entry);
  if (!verdict.ok) recordRejection(tx, entry, verdict);
  const position = { appliedIndex: entry.index, appliedTerm: entry.term };
  tx.insert(stateMeta)
    .values({ id: 1, ...position })
    .onConflictDoUpdate({ target: stateMeta.id, set: position })
    .run();
  return verdict;
}

function recordRejection(tx: StateTx, entry: StateEntry, verdict: Verdict & { ok: false }): void {
  tx.insert(rejectedEntries)
    .values({
      logIndex: entry.index,
      type: entry.type,
      code: verdict.code,
      reason: verdict.reason,
      atMs: entry.data.atMs,
    })
    .run();
  // Keep the newest rows only; pruning by index makes every node keep the same rows. The
  // OFFSET walks the primary key from the newest end, so this costs the rows it deletes.
  tx.run(
    sql`DELETE FROM rejected_entries WHERE log_index <= (SELECT log_index FROM rejected_entries ORDER BY log_index DESC LIMIT 1 OFFSET ${limits.stateRejectedEntriesKeptMax})`,
  );
}
