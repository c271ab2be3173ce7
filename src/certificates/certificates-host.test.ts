/**
 * The certificates host without an ACME server (test/acme/ runs it against Pebble): what
 * it proposes on the leader and what it leaves alone on a follower, on a real one-node
 * state database where each proposal is applied at once.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { StateCommandType } from '../../actors/state/commands.ts';
import { silentLogger } from '../core/logger.ts';
import { freePort } from '../core/ports-testing.ts';
import { createKeyring } from '../secrets/keyring.ts';
import { openSecretText } from '../secrets/vault.ts';
import { getSealedSecret } from '../state/queries.ts';
import { getCertOrder } from '../state/queries-certs.ts';
import { jobRegistered, openTestState, type TestState } from '../state/testing.ts';
import { acmeAccountKeySecretName, CertificatesHost } from './certificates-host.ts';

const nowMs = 1_800_000_000_000;
let state: TestState;
let host: CertificatesHost | undefined;

afterEach(async () => {
  await host?.stop();
  host = undefined;
  state?.sqlite.close();
});

/** A closed loopback port: every ACME request is refused at once. */
function deadDirectoryUrl(): string {
  return `https://127.0.0.1:${freePort()}/dir`;
}

function setup(routes: unknown[], leader = true) {
  state = openTestState();
  state.submit('job_registered', jobRegistered('web', { spec: { image: 'x:1', routes } }));
  const keyring = createKeyring(1_000);
  const proposed: StateCommandType[] = [];
  let hold: Promise<void> | null = null;
  host = new CertificatesHost({
    state: { db: state.db, appliedIndex: () => state.log.commitIndex() },
    propose: async (type, payload) => {
      proposed.push(type);
      if (hold) await hold;
      state.submit(type, payload as never);
    },
    isLeader: () => leader,
    keyring,
    acme: { directoryUrl: deadDirectoryUrl() },
    nowMs: () => nowMs,
    logger: silentLogger,
    limits: { backoffBaseMs: 5_000 },
  });
  return {
    host,
    keyring,
    proposed,
    holdProposals(p: Promise<void> | null) {
      hold = p;
    },
  };
}

describe('certificates host', () => {
  test('a follower plans nothing and proposes nothing', async () => {
    // Proves ordering happens on the leader only.
    const { host, proposed } = setup([{ hosts: ['a.example.com'], tls: true }], false);
    expect(host.tick()).toEqual({ started: [], skipped: true });
    await Bun.sleep(0);
    expect(proposed).toEqual([]);
  });

  test('no TLS host wanting ACME means no account is created', async () => {
    // Proves custom-certificate and plain routes never touch the ACME account.
    const { host, proposed } = setup([
      { hosts: ['plain.example.com'], tls: false },
      {
        hosts: ['own.example.com'],
        tls: true,
        certificate: { certificatePemSecret: 'C', privateKeyPemSecret: 'K' },
      },
    ]);
    expect(host.tick().started).toEqual([]);
    await Bun.sleep(0);
    expect(proposed).toEqual([]);
  });

  test('the account key is proposed once, sealed, then an unreachable server is a recorded failure', async () => {
    // Proves the account key secret, one proposal while it commits, and failure with backoff.
    const { host, keyring, proposed, holdProposals } = setup([
      { hosts: ['a.example.com'], tls: true },
    ]);
    let release = () => {};
    holdProposals(new Promise<void>((resolve) => (release = resolve)));
    host.tick();
    host.tick();
    expect(proposed).toEqual(['secret_set']);
    holdProposals(null);
    release();
    await Bun.sleep(0);
    const sealed = getSealedSecret(state.db, acmeAccountKeySecretName);
    if (!sealed) throw new Error('account key not committed');
    expect(openSecretText(keyring, acmeAccountKeySecretName, sealed)).toContain('PRIVATE KEY');
    expect(host.tick().started.map((a) => a.host)).toEqual(['a.example.com']);
    await host.settled();
    const order = getCertOrder(state.db, 'a.example.com');
    expect(order?.status).toBe('failed');
    expect(order?.attempts).toBe(1);
    expect(order?.nextAttemptAtMs).toBe(nowMs + 5_000);
    expect(order?.lastError).toStartWith('acme_unreachable: ACME server https://127.0.0.1:');
    expect(proposed).toEqual(['secret_set', 'cert_order_failed']);
  });
});
