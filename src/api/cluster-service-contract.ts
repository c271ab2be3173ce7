/**
 * The contract every `ClusterService` implementation must pass (hono's pattern: one shared
 * test that each interchangeable implementation runs). `TestClusterService` runs it in
 * test-service.test.ts; the node runtime's adapter over Raft and the real state machine
 * should run it too, so the API's assumptions (read-your-writes after propose, hashes only,
 * no credentials in events) hold for the service that ships.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { limits } from '../core/limits.ts';
import { generateToken, hashToken } from '../secrets/tokens.ts';
import type { ClusterService } from './cluster-service.ts';
import { JobSpecSchema } from './job-spec.ts';

export interface ContractSubject {
  service: ClusterService;
  close(): void | Promise<void>;
}

const list = { limit: 100 };

/** Every entry still held (the contract's logs are small: one read batch). */
function readAll(s: ClusterService) {
  return s.events.read(s.events.firstIndex(), limits.logReadBatchMax);
}

/** Registers the contract's tests for the implementation `create` builds (fresh per test). */
export function runClusterServiceContract(
  name: string,
  create: () => ContractSubject | Promise<ContractSubject>,
): void {
  describe(`ClusterService contract: ${name}`, () => {
    let subject: ContractSubject | undefined;
    const fresh = async () => {
      subject = await create();
      return subject.service;
    };
    afterEach(async () => {
      await subject?.close();
      subject = undefined;
    });

    test('a proposed job is readable at once, versioned, and stoppable', async () => {
      // Proves read-your-writes after propose (the API answers with the stored job).
      const s = await fresh();
      const job = JobSpecSchema.parse({ name: 'web', image: 'nginx:1', count: 1 });
      const { index } = await s.propose({ type: 'job.register', job });
      expect(index).toBe(s.events.commitIndex());
      expect(await s.getJob('web')).toMatchObject({ name: 'web', version: 1, status: 'running' });
      await s.propose({
        type: 'job.register',
        job: { ...job, driver: { kind: 'docker', image: 'nginx:2' } },
      });
      const history = await s.jobHistory('web', list);
      expect(history.map((v) => v.version)).toEqual([2, 1]);
      expect((await s.listJobs(list)).map((j) => j.name)).toEqual(['web']);
      await s.propose({ type: 'job.stop', name: 'web' });
      expect((await s.getJob('web'))?.status).toBe('stopped');
      expect(await s.getJob('nope')).toBeNull();
    });

    test('secrets: values are readable back, listed without values, absent from log and events', async () => {
      // Proves the log carries no plaintext and events do not leak it either.
      const s = await fresh();
      const value = `plaintext-${generateToken()}`;
      await s.propose({ type: 'secret.put', name: 'DB_URL', value });
      expect(await s.readSecret('DB_URL')).toBe(value);
      expect(JSON.stringify(await s.listSecrets(list))).not.toContain(value);
      const entries = readAll(s);
      expect(JSON.stringify(entries)).not.toContain(value);
      expect(JSON.stringify(entries.map((e) => s.toEvent(e)))).not.toContain(value);
      await s.propose({ type: 'secret.delete', name: 'DB_URL' });
      expect(await s.readSecret('DB_URL')).toBeNull();
    });

    test('tokens: found by hash until revoked; views and events carry no hash', async () => {
      // Proves what the API's auth relies on: lookup by SHA-256 hex, revocation takes effect.
      const s = await fresh();
      const token = generateToken();
      const hashHex = hashToken(token);
      const id = 'tok_contract01';
      await s.propose({ type: 'token.create', id, name: 'ci', role: 'deploy', hashHex });
      expect(await s.findToken(hashHex)).toEqual({ id, role: 'deploy' });
      expect(await s.getToken(id)).toMatchObject({ id, name: 'ci', role: 'deploy' });
      expect(JSON.stringify(await s.listTokens(list))).not.toContain(hashHex);
      const entries = readAll(s);
      expect(JSON.stringify(entries.map((e) => s.toEvent(e)))).not.toContain(hashHex);
      await s.propose({ type: 'token.revoke', id });
      expect(await s.findToken(hashHex)).toBeNull();
      expect(await s.findToken(hashToken('never issued'))).toBeNull();
    });

    test('commits notify event listeners and the barrier resolves on a healthy node', async () => {
      // Proves the event stream's push path and the read barrier's happy path.
      const s = await fresh();
      const seen: number[] = [];
      const unsubscribe = s.events.onCommit((index) => seen.push(index));
      const job = JobSpecSchema.parse({ name: 'ghost', image: 'x', count: 1 });
      const { index } = await s.propose({ type: 'job.register', job });
      unsubscribe();
      expect(seen.at(-1)).toBe(index);
      await s.readBarrier();
      const status = await s.status();
      expect(status.commitIndex).toBeGreaterThanOrEqual(index);
    });
  });
}
