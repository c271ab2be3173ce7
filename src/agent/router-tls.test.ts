import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { buildRouteTable } from '../../actors/router/index.ts';
import { BerthError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import {
  createClusterCa,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  signCsr,
} from '../pki/index.ts';
import { routeTableInputFromState } from '../router/from-state.ts';
import { Router, type SetCertificatesResult } from '../router/router.ts';
import type { TlsCertificate } from '../router/tls-certificates.ts';
import { peerCertificate, testCertificate } from '../router/tls-testing.ts';
import { activeKey, createKeyring } from '../secrets/keyring.ts';
import { sealSecret } from '../secrets/vault.ts';
import { certificateKeySecretName } from '../state/queries-certs.ts';
import { jobRegistered, openTestState, type TestState } from '../state/testing.ts';
import { configFromEnv, resolveConfig } from './config.ts';
import { acmeChallengeLookup, leaderTlsKeysFetcher, RouterTls } from './router-tls.ts';
import type { TlsKeysAnswer } from './tls-keys.ts';
import { tlsKeysRoutes } from './tls-keys.ts';

const keyring = createKeyring(1_000);
const first = await testCertificate(['a.test'], '0a');
const renewed = await testCertificate(['a.test'], '0e');
/** `first` as the router should be given it. */
const firstServed = { hosts: ['a.test'], certPem: first.certPem, keyPem: first.keyPem };

function stateWithTlsRoute(): TestState {
  const state = openTestState();
  const routes = [{ hosts: ['a.test'], paths: [], port: 'http', tls: true, redirectHttp: true }];
  state.submit('job_registered', jobRegistered('web', { spec: { name: 'web', routes } }));
  return state;
}

function issue(state: TestState, pair: { certPem: string; keyPem: string }): void {
  const sealed = sealSecret(activeKey(keyring), certificateKeySecretName('a.test'), pair.keyPem);
  state.submit('certificate_issued', {
    host: 'a.test',
    certPem: pair.certPem,
    keyCiphertext: sealed.ciphertext,
    keyNonce: sealed.nonce,
    keyId: sealed.keyId,
    issuer: 'CN=test',
    serial: pair === first ? '0a' : '0e',
    notBeforeMs: 0,
    notAfterMs: 10_000_000_000_000,
    atMs: 7,
  });
}

/** A router stand-in that records what it is given. */
function recordingRouter() {
  const calls: TlsCertificate[][] = [];
  return {
    calls,
    setCertificates(certs: readonly TlsCertificate[]): SetCertificatesResult {
      calls.push([...certs]);
      return { outcome: 'started', problems: [] };
    },
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let rounds = 0; rounds < 500; rounds++) {
    if (check()) return;
    await Bun.sleep(2);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('on a node with the keyring', () => {
  test('keys are opened locally and handed over only when the inputs change', () => {
    // Proves the voter path and that unchanged batches do not reset the listener.
    const state = stateWithTlsRoute();
    const router = recordingRouter();
    const wiring = new RouterTls({
      router,
      state: { db: state.db, appliedIndex: () => 0 },
      keyring,
      fetchFromLeader: () => Promise.reject(new Error('not used')),
      logger: silentLogger,
    });
    wiring.refresh();
    wiring.refresh();
    expect(router.calls).toEqual([[]]);
    issue(state, first);
    wiring.refresh();
    wiring.refresh();
    expect(router.calls).toHaveLength(2);
    expect(router.calls[1]).toEqual([firstServed]);
  });

  test('a failed HTTPS bind is retried with backoff until it is served', async () => {
    // Proves a listener failure is not mistaken for a served set.
    const state = stateWithTlsRoute();
    issue(state, first);
    let failures = 2;
    const calls: number[] = [];
    const router = {
      setCertificates(): SetCertificatesResult {
        calls.push(calls.length);
        if (failures-- > 0) {
          return {
            outcome: 'listen_failed',
            problems: [],
            error: new BerthError('listen_failed', 'port taken'),
          };
        }
        return { outcome: 'started', problems: [] };
      },
    };
    const wiring = new RouterTls({
      router,
      state: { db: state.db, appliedIndex: () => 0 },
      keyring,
      fetchFromLeader: () => Promise.reject(new Error('not used')),
      logger: silentLogger,
      retryBaseMs: 1,
      retryCapMs: 4,
    });
    wiring.refresh();
    await until('the third attempt', () => calls.length === 3);
    await Bun.sleep(20);
    expect(calls).toHaveLength(3);
    wiring.stop();
  });
});

describe('on a worker', () => {
  test('a failed fetch is retried; an answer from a leader behind this node is not used', async () => {
    // Proves the worker path keeps asking until it gets a set at least as new as its state.
    const state = stateWithTlsRoute();
    issue(state, first);
    const answers: (TlsKeysAnswer | Error)[] = [
      new Error('leader unreachable'),
      { appliedIndex: 1, certificates: [], problems: [] },
      { appliedIndex: 99, certificates: [firstServed], problems: [] },
    ];
    let asked = 0;
    const router = recordingRouter();
    const wiring = new RouterTls({
      router,
      state: { db: state.db, appliedIndex: () => 10 },
      keyring: undefined,
      fetchFromLeader: async () => {
        const answer = answers[asked++];
        if (answer === undefined) throw new Error('asked too often');
        if (answer instanceof Error) throw answer;
        return answer;
      },
      logger: silentLogger,
      retryBaseMs: 1,
      retryCapMs: 4,
    });
    wiring.refresh();
    await until('the answer to be served', () => router.calls.length === 1);
    expect(asked).toBe(3);
    expect(router.calls[0]).toEqual([firstServed]);
    wiring.stop();
  });

  test('a change while a fetch is in flight fetches again and serves only the newer answer', async () => {
    // Proves one fetch at a time and that a stale answer is dropped.
    const state = stateWithTlsRoute();
    const pending: ((answer: TlsKeysAnswer) => void)[] = [];
    const router = recordingRouter();
    const wiring = new RouterTls({
      router,
      state: { db: state.db, appliedIndex: () => 5 },
      keyring: undefined,
      fetchFromLeader: () => new Promise((resolve) => pending.push(resolve)),
      logger: silentLogger,
    });
    wiring.refresh();
    issue(state, first);
    wiring.refresh();
    expect(pending).toHaveLength(1);
    pending[0]!({ appliedIndex: 5, certificates: [], problems: [] });
    await until('the second fetch', () => pending.length === 2);
    expect(router.calls).toEqual([]);
    pending[1]!({ appliedIndex: 6, certificates: [firstServed], problems: [] });
    await until('the answer to be served', () => router.calls.length === 1);
    expect(router.calls[0]?.[0]?.certPem).toBe(first.certPem);
    wiring.stop();
  });
});

describe('wired to a real router', () => {
  let state: TestState;
  let router: Router;
  let wiring: RouterTls;

  beforeAll(() => {
    state = stateWithTlsRoute();
    router = new Router({
      listen: { hostname: '127.0.0.1', port: 0 },
      listenTls: { hostname: '127.0.0.1', port: 0 },
      acmeChallenge: acmeChallengeLookup(state),
      logger: silentLogger,
    });
    router.start();
    wiring = new RouterTls({
      router,
      state: { db: state.db, appliedIndex: () => 0 },
      keyring,
      fetchFromLeader: () => Promise.reject(new Error('not used')),
      logger: silentLogger,
    });
    router.setTable(buildRouteTable(routeTableInputFromState(state.db)));
    wiring.refresh();
  });

  afterAll(async () => {
    wiring.stop();
    await router.stop({ force: true });
  });

  test('an issued certificate is served, a renewal replaces it, HTTP starts redirecting', async () => {
    // Proves state → router: no HTTPS before the first certificate, then SNI serves it.
    const get = (path: string) =>
      fetch(`http://127.0.0.1:${router.port}${path}`, {
        headers: { host: 'a.test' },
        redirect: 'manual',
      });
    expect(router.tlsPort).toBeUndefined();
    expect((await get('/')).status).toBe(503);
    issue(state, first);
    wiring.refresh();
    expect((await peerCertificate(router.tlsPort!, 'a.test')).serial).toBe('0A');
    expect((await get('/x')).headers.get('location')).toBe(`https://a.test:${router.tlsPort}/x`);
    issue(state, renewed);
    wiring.refresh();
    expect((await peerCertificate(router.tlsPort!, 'a.test')).serial).toBe('0E');
  });

  test('HTTP-01 is answered from the committed challenge table', async () => {
    // Proves the lookup reads replicated challenges, set and cleared.
    const challenge = () =>
      fetch(`http://127.0.0.1:${router.port}/.well-known/acme-challenge/tok1`, {
        headers: { host: 'x.test' },
      });
    expect((await challenge()).status).toBe(404);
    state.submit('acme_challenge_set', {
      token: 'tok1',
      keyAuthorization: 'tok1.thumb',
      host: 'a.test',
      atMs: 8,
    });
    const answered = await challenge();
    expect([answered.status, await answered.text()]).toEqual([200, 'tok1.thumb']);
    state.submit('acme_challenge_cleared', { token: 'tok1', atMs: 9 });
    expect((await challenge()).status).toBe(404);
  });
});

test('a worker fetches the keys from the leader over HTTPS with a node-signed request', async () => {
  // Proves leaderTlsKeysFetcher and tlsKeysRoutes work together over a real TLS socket.
  const ca = await createClusterCa({ clusterName: 'tls', validityDays: 30 });
  const keys = await generateKeyPair();
  const certPem = await signCsr(ca, await createCsr('n1', keys), {
    nodeId: 1,
    role: 'voter',
    validityDays: 30,
  });
  const node = { certPem, keyPem: await exportPrivateKeyPem(keys.privateKey), caPem: ca.certPem };
  const state = stateWithTlsRoute();
  issue(state, first);
  const app = tlsKeysRoutes({
    clusterName: 'tls',
    caPem: ca.certPem,
    state: { db: state.db, appliedIndex: () => 3 },
    keyring,
    isLeader: () => true,
    logger: silentLogger,
  });
  const api = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls: { cert: node.certPem, key: node.keyPem },
    fetch: (req) => app.fetch(req),
  });
  try {
    const answer = await leaderTlsKeysFetcher(`https://127.0.0.1:${api.port}`, () => node)();
    expect(answer.appliedIndex).toBe(3);
    expect(answer.certificates).toEqual([firstServed]);
  } finally {
    await api.stop(true);
  }
});

test('httpsPort defaults to 443, comes from BERTH_HTTPS_PORT, and 0 turns HTTPS off', () => {
  // Proves the config field and its environment variable.
  expect(resolveConfig({ nodeName: 'n1' }).httpsPort).toBe(443);
  expect(
    resolveConfig({ nodeName: 'n1' }, configFromEnv({ BERTH_HTTPS_PORT: '8443' })).httpsPort,
  ).toBe(8443);
  expect(resolveConfig({ nodeName: 'n1', httpsPort: 0 }).httpsPort).toBe(0);
  expect(() => resolveConfig({ nodeName: 'n1', httpsPort: 70_000 })).toThrow();
});
