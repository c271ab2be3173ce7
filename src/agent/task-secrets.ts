/**
 * Secrets for a task on a node without the keyring (workers hold none): the node asks
 * the leader, signing `task-secrets:<allocId>:<atMs>` with its own key. The leader answers
 * only for an allocation placed on that very node and desired to run, and only the
 * secrets its job version binds — DESIGN.md §7: "a worker receives the plaintext of a
 * secret only for allocations it runs". Requests older than a minute are refused.
 */
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';
import type { Keyring } from '../secrets/keyring.ts';
import { openSecretText } from '../secrets/vault.ts';
import type { Job } from '../spec/normalize.ts';
import * as q from '../state/queries.ts';
import { signAsNode, verifyNodeSignature } from './node-auth.ts';
import type { StateHost } from './state-host.ts';

/** How far a request's time may be from the leader's, in ms. */
export const taskSecretsSkewMsMax = 60_000;

export const TaskSecretsRequestSchema = z.strictObject({
  allocId: z.string().min(1).max(128),
  atMs: z.number().int().nonnegative(),
  certPem: z.string().min(1).max(16_384),
  signature: z.string().min(1).max(512),
});

export type TaskSecretsRequest = z.infer<typeof TaskSecretsRequestSchema>;

export function taskSecretsPayload(allocId: string, atMs: number): string {
  return `task-secrets:${allocId}:${atMs}`;
}

export async function signTaskSecretsRequest(
  node: { certPem: string; keyPem: string },
  allocId: string,
  atMs: number = Date.now(),
): Promise<TaskSecretsRequest> {
  return {
    allocId,
    atMs,
    certPem: node.certPem,
    signature: await signAsNode(node.keyPem, taskSecretsPayload(allocId, atMs)),
  };
}

/** The job spec of one job version, if the state still holds it. */
export function specOf(db: q.StateReader, jobId: string, version: number): Job | undefined {
  const job = q.getJob(db, jobId);
  if (job?.version === version) return job.spec as unknown as Job;
  return q.jobHistory(db, jobId).find((v) => v.version === version)?.spec as unknown as
    | Job
    | undefined;
}

/** Opens the secrets an allocation's job version binds: env var → plaintext. */
export function openTaskSecrets(
  db: q.StateReader,
  keyring: Keyring,
  allocId: string,
): Record<string, string> {
  const alloc = q.getAllocation(db, allocId);
  if (!alloc) throw new BerthError('allocation_not_found', `no allocation ${allocId}`);
  const out: Record<string, string> = {};
  for (const binding of specOf(db, alloc.jobId, alloc.jobVersion)?.secrets ?? []) {
    const sealed = q.getSealedSecret(db, binding.secret);
    if (!sealed) {
      throw new BerthError(
        'secret_not_found',
        `secret ${binding.secret} does not exist; set it with berth secret set`,
      );
    }
    out[binding.env] = openSecretText(keyring, binding.secret, sealed);
  }
  return out;
}

/** The leader's side: checks who asks and for what, then opens the bound secrets. */
export async function answerTaskSecrets(
  req: TaskSecretsRequest,
  ca: { clusterName: string; certPem: string },
  state: StateHost,
  keyring: Keyring | undefined,
  nowMs: number = Date.now(),
): Promise<Record<string, string>> {
  if (Math.abs(nowMs - req.atMs) > taskSecretsSkewMsMax) {
    throw new BerthError(
      'forbidden',
      'the request is too old or from a skewed clock; check the node’s time',
    );
  }
  const node = await verifyNodeSignature(
    {
      certPem: req.certPem,
      payload: taskSecretsPayload(req.allocId, req.atMs),
      signature: req.signature,
    },
    ca,
    'forbidden',
    nowMs,
  );
  const alloc = q.getAllocation(state.db, req.allocId);
  if (!alloc || alloc.nodeId !== String(node.nodeId) || alloc.desiredStatus !== 'run') {
    throw new BerthError(
      'forbidden',
      `allocation ${req.allocId} does not run on node ${node.nodeId}`,
    );
  }
  if (!keyring) throw new BerthError('no_keyring', 'the leader holds no keyring');
  return openTaskSecrets(state.db, keyring, req.allocId);
}
