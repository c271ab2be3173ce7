/**
 * Applying secrets, API tokens and join tokens (inside the consumer's transaction). Only
 * ciphertext and hashes arrive here; nothing in this file ever sees a plaintext.
 */
import { eq, or } from 'drizzle-orm';
import type { StateEntry } from '../../actors/state/commands.ts';
import { decideJoinTokenUse, decideTokenRevoke, type Verdict } from '../../actors/state/rules.ts';
import type { StateTx } from '../mailbox/log-consumer.ts';
import { joinTokens, secrets, tokens } from '../storage/state-schema.ts';

const accepted: Verdict = { ok: true };

/** Stores or replaces a sealed secret; its version counts replacements from 1. */
export function applySecretSet(tx: StateTx, entry: StateEntry<'secret_set'>): Verdict {
  const { name, ciphertext, nonce, keyId, atMs } = entry.data;
  const current = tx
    .select({ version: secrets.version })
    .from(secrets)
    .where(eq(secrets.name, name))
    .get();
  const row = {
    ciphertext,
    nonce,
    keyId,
    version: (current?.version ?? 0) + 1,
    updatedAtMs: atMs,
    modifyIndex: entry.index,
  };
  tx.insert(secrets)
    .values({ name, ...row })
    .onConflictDoUpdate({ target: secrets.name, set: row })
    .run();
  return accepted;
}

export function applySecretRemoved(tx: StateTx, entry: StateEntry<'secret_removed'>): Verdict {
  const { name } = entry.data;
  const found = tx.select({ name: secrets.name }).from(secrets).where(eq(secrets.name, name)).get();
  if (!found) return { ok: false, code: 'secret_unknown', reason: `secret ${name} is unknown` };
  tx.delete(secrets).where(eq(secrets.name, name)).run();
  return accepted;
}

/** Creates an API token; an id or hash already in use is refused (hashes stay unique). */
export function applyTokenCreated(tx: StateTx, entry: StateEntry<'token_created'>): Verdict {
  const { id, name, role, hash, expiresAtMs, atMs } = entry.data;
  const clash = tx
    .select({ id: tokens.id })
    .from(tokens)
    .where(or(eq(tokens.id, id), eq(tokens.hash, hash)))
    .get();
  if (clash) return { ok: false, code: 'token_exists', reason: `token ${id} or its hash exists` };
  tx.insert(tokens)
    .values({
      id,
      name,
      role,
      hash,
      expiresAtMs: expiresAtMs ?? null,
      createdAtMs: atMs,
      revokedAtMs: null,
    })
    .run();
  return accepted;
}

/** Revokes a token; the row stays (with its revocation time) for audit. */
export function applyTokenRevoked(tx: StateTx, entry: StateEntry<'token_revoked'>): Verdict {
  const { id, atMs } = entry.data;
  const token = tx
    .select({ revokedAtMs: tokens.revokedAtMs })
    .from(tokens)
    .where(eq(tokens.id, id))
    .get();
  const verdict = decideTokenRevoke(id, token);
  if (!verdict.ok) return verdict;
  tx.update(tokens).set({ revokedAtMs: atMs }).where(eq(tokens.id, id)).run();
  return accepted;
}

export function applyJoinTokenCreated(
  tx: StateTx,
  entry: StateEntry<'join_token_created'>,
): Verdict {
  const { id, hash, role, expiresAtMs, atMs } = entry.data;
  const clash = tx
    .select({ id: joinTokens.id })
    .from(joinTokens)
    .where(or(eq(joinTokens.id, id), eq(joinTokens.hash, hash)))
    .get();
  if (clash) {
    return { ok: false, code: 'join_token_exists', reason: `join token ${id} or its hash exists` };
  }
  tx.insert(joinTokens)
    .values({ id, hash, role, expiresAtMs, createdAtMs: atMs, usedAtMs: null, usedByNodeId: null })
    .run();
  return accepted;
}

/**
 * Consumes a join token. The leader checks the token before proposing, but two joins can
 * race; the log orders them and only the first one committed wins on every node.
 */
export function applyJoinTokenUsed(tx: StateTx, entry: StateEntry<'join_token_used'>): Verdict {
  const { id, nodeId, atMs } = entry.data;
  const token = tx
    .select({
      role: joinTokens.role,
      expiresAtMs: joinTokens.expiresAtMs,
      usedAtMs: joinTokens.usedAtMs,
    })
    .from(joinTokens)
    .where(eq(joinTokens.id, id))
    .get();
  const verdict = decideJoinTokenUse(id, token, atMs);
  if (!verdict.ok) return verdict;
  tx.update(joinTokens)
    .set({ usedAtMs: atMs, usedByNodeId: nodeId })
    .where(eq(joinTokens.id, id))
    .run();
  return accepted;
}
