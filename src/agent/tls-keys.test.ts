import { beforeAll, describe, expect, test } from 'bun:test';
import { silentLogger } from '../core/logger.ts';
import {
  createClusterCa,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  signCsr,
} from '../pki/index.ts';
import { testCertificate } from '../router/tls-testing.ts';
import { activeKey, createKeyring, type Keyring } from '../secrets/keyring.ts';
import { sealSecret } from '../secrets/vault.ts';
import { certificateKeySecretName } from '../state/queries-certs.ts';
import { jobRegistered, openTestState, type TestState } from '../state/testing.ts';
import {
  answerTlsKeys,
  collectTlsCertificates,
  signTlsKeysRequest,
  tlsInputSignature,
  tlsKeysRoutes,
} from './tls-keys.ts';

const keyring: Keyring = createKeyring(1_000);
const acmeCert = await testCertificate(['a.test'], '0a');
const customCert = await testCertificate(['c.test', 'www.c.test'], '0c');

function secretSet(state: TestState, name: string, value: string): void {
  const sealed = sealSecret(activeKey(keyring), name, value);
  state.submit('secret_set', { name, ...sealed, atMs: 5 });
}

function certificateIssued(
  state: TestState,
  host: string,
  pair: { certPem: string; keyPem: string },
  sealAs = host,
) {
  const sealed = sealSecret(activeKey(keyring), certificateKeySecretName(sealAs), pair.keyPem);
  state.submit('certificate_issued', {
    host,
    certPem: pair.certPem,
    keyCiphertext: sealed.ciphertext,
    keyNonce: sealed.nonce,
    keyId: sealed.keyId,
    issuer: 'CN=test',
    serial: '0a',
    notBeforeMs: 0,
    notAfterMs: 10_000_000_000_000,
    atMs: 6,
  });
}

/** Jobs: `web` (ACME for a.test), `custom` (custom certificate for c.test and www.c.test). */
function stateWithTlsJobs(): TestState {
  const state = openTestState();
  const route = (hosts: string[], extra: Record<string, unknown> = {}) => ({
    hosts,
    paths: [],
    port: 'http',
    tls: true,
    redirectHttp: true,
    ...extra,
  });
  state.submit(
    'job_registered',
    jobRegistered('web', { spec: { name: 'web', routes: [route(['a.test'])] } }),
  );
  const certificate = { certificatePemSecret: 'C_CERT', privateKeyPemSecret: 'C_KEY' };
  state.submit(
    'job_registered',
    jobRegistered('custom', {
      spec: { name: 'custom', routes: [route(['c.test', 'www.c.test'], { certificate })] },
    }),
  );
  return state;
}

describe('collectTlsCertificates', () => {
  test('custom certificates come first with all their hosts, then ACME ones, keys opened', () => {
    // Proves both sources reach the router, in the order that lets a custom one win.
    const state = stateWithTlsJobs();
    secretSet(state, 'C_CERT', customCert.certPem);
    secretSet(state, 'C_KEY', customCert.keyPem);
    certificateIssued(state, 'a.test', acmeCert);
    certificateIssued(state, 'gone.test', acmeCert);
    const { certificates, problems } = collectTlsCertificates(state.db, keyring);
    expect(problems).toEqual([]);
    expect(certificates).toEqual([
      { hosts: ['c.test', 'www.c.test'], certPem: customCert.certPem, keyPem: customCert.keyPem },
      { hosts: ['a.test'], certPem: acmeCert.certPem, keyPem: acmeCert.keyPem },
    ]);
  });

  test('a missing secret or a key that does not open is reported; the rest is served', () => {
    // Proves one broken certificate does not hide the others, and says why.
    const state = stateWithTlsJobs();
    secretSet(state, 'C_CERT', customCert.certPem);
    certificateIssued(state, 'a.test', acmeCert, 'other-host');
    const { certificates, problems } = collectTlsCertificates(state.db, keyring);
    expect(certificates).toEqual([]);
    expect(problems.map((p) => [p.code, p.hosts])).toEqual([
      ['secret_not_found', ['c.test', 'www.c.test']],
      ['secret_open_failed', ['a.test']],
    ]);
  });
});

test('the input signature moves with certificates and secrets, not with unrelated entries', () => {
  // Proves the cheap check that lets most applied batches skip opening keys.
  const state = stateWithTlsJobs();
  const first = tlsInputSignature(state.db);
  state.submit('job_registered', jobRegistered('other', { spec: { name: 'other', routes: [] } }));
  expect(tlsInputSignature(state.db)).toBe(first);
  secretSet(state, 'C_CERT', customCert.certPem);
  const withSecret = tlsInputSignature(state.db);
  expect(withSecret).not.toBe(first);
  certificateIssued(state, 'a.test', acmeCert);
  const withCert = tlsInputSignature(state.db);
  expect(withCert).not.toBe(withSecret);
  certificateIssued(state, 'a.test', acmeCert);
  expect(tlsInputSignature(state.db)).not.toBe(withCert);
});

describe('the leader answering a worker', () => {
  const ca = { clusterName: 'tls', certPem: '', keyPem: '' };
  let node = { certPem: '', keyPem: '' };
  let state: TestState;
  const host = () => ({ db: state.db, appliedIndex: () => 42 });

  beforeAll(async () => {
    Object.assign(ca, await createClusterCa({ clusterName: 'tls', validityDays: 30 }));
    const keys = await generateKeyPair();
    const certPem = await signCsr(ca, await createCsr('w1', keys), {
      nodeId: 7,
      role: 'worker',
      validityDays: 30,
    });
    node = { certPem, keyPem: await exportPrivateKeyPem(keys.privateKey) };
    state = stateWithTlsJobs();
    certificateIssued(state, 'a.test', acmeCert);
  });

  test('a request signed by a node of the cluster gets the keys and the applied index', async () => {
    // Proves the happy path of a worker's fetch.
    const answer = await answerTlsKeys(await signTlsKeysRequest(node), ca, host(), keyring);
    expect(answer.appliedIndex).toBe(42);
    expect(answer.certificates).toEqual([
      { hosts: ['a.test'], certPem: acmeCert.certPem, keyPem: acmeCert.keyPem },
    ]);
  });

  test('another key, a stale request, or a leader without keyring are refused', async () => {
    // Proves the checks in order: signature, freshness, keyring.
    const other = await generateKeyPair();
    const forged = await signTlsKeysRequest({
      ...node,
      keyPem: await exportPrivateKeyPem(other.privateKey),
    });
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: { code: string }) => e.code,
      );
    expect(await codeOf(answerTlsKeys(forged, ca, host(), keyring))).toBe('forbidden');
    const stale = await signTlsKeysRequest(node, Date.now() - 120_000);
    expect(await codeOf(answerTlsKeys(stale, ca, host(), keyring))).toBe('forbidden');
    const good = await signTlsKeysRequest(node);
    expect(await codeOf(answerTlsKeys(good, ca, host(), undefined))).toBe('no_keyring');
  });

  test('the route answers only on the leader and refuses bodies that do not parse', async () => {
    // Proves the HTTP surface: 200 with the answer, 503 not_leader, 400 invalid_body.
    let leader = true;
    const app = tlsKeysRoutes({
      clusterName: 'tls',
      caPem: ca.certPem,
      state: host(),
      keyring,
      isLeader: () => leader,
      logger: silentLogger,
    });
    const post = async (body: unknown) =>
      app.request('/v1/cluster/tls-keys', { method: 'POST', body: JSON.stringify(body) });
    const ok = await post(await signTlsKeysRequest(node));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { certificates: unknown[] }).certificates).toHaveLength(1);
    expect((await post({ atMs: 1 })).status).toBe(400);
    leader = false;
    const refused = await post(await signTlsKeysRequest(node));
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('not_leader');
  });
});
