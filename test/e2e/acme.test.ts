/**
 * Automatic TLS on a real three-voter cluster against a real ACME server: Debian's Pebble
 * on loopback, names resolved to 127.0.0.1 by pebble-challtestsrv's DNS, and Pebble's
 * HTTP-01 validation pointed at the router of the third node — a node that is not the
 * leader when the order runs, so the answer it serves came through replication.
 *
 * Proves, in order: a `tls: true` route gets a certificate that verifies against
 * Pebble's root on every node's TLS listener, plain HTTP redirects; a forced renewal
 * replaces it while a load runs over kept-alive and new connections and a slow request
 * straddles the swap, with 0 failed requests; a leader killed with kill -9 in the middle
 * of an order ends with exactly one valid certificate, from the same order and key (the
 * new leader resumed it; the ACME account holds no extra order).
 */

import { Database } from 'bun:sqlite';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { dataPaths } from '../../src/agent/data-dir.ts';
import type { CertificateView } from '../../src/api/cluster-service.ts';
import { keyringFileName, readKeyring } from '../../src/secrets/keyring.ts';
import { openSecretText } from '../../src/secrets/vault.ts';
import { certificateKeySecretName } from '../../src/state/queries-certs.ts';
import { accountOrderUrls } from '../acme/acme-helpers.ts';
import { freePort, type Pebble, pebbleUnavailable, startPebble } from '../acme/pebble.ts';
import { TestCluster } from '../cluster/harness.ts';
import {
  deployWithCli,
  killMarkedProcesses,
  randomHex,
  readAny,
  stopJobs,
  writeSpec,
} from './e2e-helpers.ts';

/** The node whose router Pebble validates HTTP-01 against. */
const validatorNode = 2;
/** Bound on a certificate being issued after its route is deployed, in ms. */
const issueBoundMs = 60_000;
/** Bound on one `berth deploy`, in ms. */
const deployBoundMs = 60_000;
/** Requests of the load across the renewal, at most (it also stops at the renewal's end). */
const loadRequestsMax = 5_000;
/** How long the slow endpoint holds its answer, in ms (it must straddle the swap). */
const slowAnswerMs = 3_000;

const unavailable = pebbleUnavailable();
if (unavailable && process.env.CI) throw new Error(`ACME e2e needs Pebble: ${unavailable}`);
// Skipped only on a developer machine without Pebble (CI=true throws above instead).
const maybe = unavailable ? test.skip : test;
if (unavailable) console.log(`[e2e acme] skipped: ${unavailable}`);

const marker = randomHex(8);
const dir = mkdtempSync(join(tmpdir(), 'berth-e2e-acme-'));
const validatorPort = freePort();
let pebble: Pebble | undefined;
let cluster: TestCluster | undefined;
let rootPem = '';
const report: string[] = [];

/** Answers its job name on /, and after slowAnswerMs on /slow. */
const appSource = [
  'Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.BERTH_PORT_HTTP), idleTimeout: 30,',
  'fetch: async (req) => { if (new URL(req.url).pathname === "/slow")',
  `await Bun.sleep(${slowAnswerMs}); return new Response(process.env.APP_NAME); } })`,
].join(' ');

function spec(name: string, host: string): string {
  return `name: ${name}
command: [bun, -e, ${JSON.stringify(appSource)}]
count: 2
resources: { cpu: 100, memory: 64 }
env:
  APP_NAME: ${name}
  BERTH_E2E_RUN: "${marker}"
ports:
  http: 8080
routes:
  - hosts: [${host}]
    tls: true
check:
  http: /
  interval: 500ms
  timeout: 1s
  grace: 1s
update:
  max_parallel: 2
  min_healthy_time: 500ms
  healthy_deadline: 20s
`;
}

function c(): TestCluster {
  return cluster as TestCluster;
}

async function certificates(): Promise<CertificateView[]> {
  return (await readAny<{ items: CertificateView[] }>(c(), '/v1/certificates')).items;
}

async function certificateOf(host: string): Promise<CertificateView | undefined> {
  return (await certificates()).find((v) => v.host === host);
}

async function waitValid(host: string, notSerial?: string): Promise<CertificateView> {
  return c().waitFor(
    async () => {
      const view = await certificateOf(host);
      return view?.status === 'valid' && view.serial !== notSerial ? view : undefined;
    },
    { what: `a valid certificate for ${host}`, timeoutMs: issueBoundMs },
  );
}

/** The leaf's serial (hex) and whether the chain verified, for a new TLS connection. */
async function handshake(
  port: number,
  host: string,
): Promise<{ serial: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: host, ca: rootPem }, () => {
      const peer = socket.getPeerCertificate();
      resolve({ serial: peer.serialNumber.toLowerCase(), authorized: socket.authorized });
      socket.end();
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

/**
 * One HTTPS GET through a TLS listener with SNI and Host `host`. A request sent on a
 * reused keep-alive connection that the server closed while idle (as nginx and Go do on
 * a reload, and as Bun does when the old listener stops after a certificate swap) is
 * retried once on a new connection, as RFC 9112 §9.3.1 lets clients do for idempotent
 * requests and Node's documentation advises (`req.reusedSocket`); `retried` counts them.
 */
async function get(
  port: number,
  host: string,
  path: string,
  agent?: HttpsAgent,
  retried?: { count: number },
): Promise<{ status: number; body: string }> {
  try {
    return await getOnce(port, host, path, agent);
  } catch (error) {
    if (!(error as { reusedSocket?: boolean }).reusedSocket || !retried) throw error;
    retried.count++;
    return getOnce(port, host, path, agent);
  }
}

function getOnce(
  port: number,
  host: string,
  path: string,
  agent?: HttpsAgent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: host,
        headers: { host },
        ca: rootPem,
        agent: agent ?? false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end();
  });
}

/** Serials of the pending order's and the certificate's keys, opened with a node's keyring. */
function storedKeys(nodeIndex: number, host: string) {
  const node = c().nodes[nodeIndex]!;
  const ring = readKeyring(join(node.dataDir, keyringFileName));
  const db = new Database(dataPaths(node.dataDir).stateDb, { readonly: true });
  try {
    const order = db
      .query('SELECT order_url, key_ciphertext, key_nonce, key_id FROM cert_orders WHERE host = ?')
      .get(host) as {
      order_url: string | null;
      key_ciphertext: string | null;
      key_nonce: string;
      key_id: string;
    } | null;
    const cert = db
      .query(
        'SELECT key_ciphertext, key_nonce, key_id, issued_at_ms FROM certificates WHERE host = ?',
      )
      .get(host) as {
      key_ciphertext: string;
      key_nonce: string;
      key_id: string;
      issued_at_ms: number;
    } | null;
    const open = (
      row: { key_ciphertext: string | null; key_nonce: string; key_id: string } | null,
    ) =>
      row?.key_ciphertext
        ? openSecretText(ring, certificateKeySecretName(host), {
            ciphertext: row.key_ciphertext,
            nonce: row.key_nonce,
            keyId: row.key_id,
          })
        : null;
    return {
      orderUrl: order?.order_url ?? null,
      orderKey: open(order),
      certKey: open(cert),
      issuedAtMs: cert?.issued_at_ms ?? null,
    };
  } finally {
    db.close();
  }
}

async function accountOrders(): Promise<string[]> {
  const secret = await c()
    .api(c().liveIndexes()[0] as number)
    .request<{ value: string }>('/v1/secrets/berth.acme.account-key');
  return accountOrderUrls(pebble as Pebble, secret.value);
}

beforeAll(async () => {
  if (unavailable) return;
  pebble = await startPebble({ httpPort: validatorPort });
  rootPem = await pebble.rootPem();
  const caFile = join(dir, 'pebble-api-ca.pem');
  writeFileSync(caFile, pebble.apiCaPem);
  cluster = new TestCluster({
    logLevel: 'info',
    env: { BERTH_ACME_DIRECTORY: pebble.directoryUrl, BERTH_ACME_CA_FILE: caFile },
    httpPortOf: (i) => (i === validatorNode ? validatorPort : undefined),
  });
  await cluster.init();
  await cluster.join('voter');
  await cluster.join('voter');
  await cluster.waitFor(() => cluster?.leader(), { what: 'a leader' });
  await moveLeaderOffValidator();
}, 90_000);

afterAll(async () => {
  if (cluster) {
    const problems = await stopJobs(cluster, ['shop', 'late']);
    if (problems.length > 0) console.log(`[e2e acme] cleanup: ${problems.join('; ')}`);
    await cluster.destroy();
  }
  await pebble?.stop();
  killMarkedProcesses(marker);
  rmSync(dir, { recursive: true, force: true });
  console.log(`[e2e acme] ${report.join('\n  ')}`);
}, 60_000);

/** Pebble only reaches the validator's router; keep leadership (and the kill) elsewhere. */
async function moveLeaderOffValidator(): Promise<void> {
  const leader = await c().waitFor(() => c().leader(), { what: 'a leader' });
  if (leader !== validatorNode) return;
  const target = c().nodes[0]!.nodeId;
  await c()
    .api(leader)
    .request('/v1/operator/raft/transfer-leadership', {
      method: 'POST',
      body: { to: target },
    });
  await c().waitFor(async () => (await c().leader()) === 0, { what: 'leadership on node 0' });
}

maybe(
  'a tls route gets a certificate every router serves; plain HTTP redirects',
  async () => {
    const t0 = performance.now();
    const deployed = await deployWithCli(
      c(),
      writeSpec(dir, 'shop.yml', spec('shop', 'shop.berth.test')),
      '45s',
      deployBoundMs,
    );
    expect(deployed.code).toBe(0);
    const view = await waitValid('shop.berth.test');
    report.push(`first certificate issued ${Math.round(performance.now() - t0)} ms after deploy`);
    expect(view.source).toBe('acme');
    expect(view.lastError).toBeNull();
    for (const node of c().nodes) {
      const hs = await handshake(node.httpsPort, 'shop.berth.test');
      expect(hs).toEqual({ serial: (view.serial as string).toLowerCase(), authorized: true });
      expect(await get(node.httpsPort, 'shop.berth.test', '/')).toEqual({
        status: 200,
        body: 'shop',
      });
    }
    const stored = storedKeys(0, 'shop.berth.test');
    expect(stored.certKey).toContain('PRIVATE KEY');
    const plain = await fetch(`http://127.0.0.1:${c().nodes[1]!.httpPort}/a?b=1`, {
      headers: { host: 'shop.berth.test' },
      redirect: 'manual',
    });
    expect(plain.status).toBe(308);
    expect(plain.headers.get('location')).toBe(
      `https://shop.berth.test:${c().nodes[1]!.httpsPort}/a?b=1`,
    );
  },
  120_000,
);

maybe(
  'a renewal replaces the certificate without dropping connections',
  async () => {
    const before = (await certificateOf('shop.berth.test')) as CertificateView;
    const port = c().nodes[1]!.httpsPort;
    const keepAlive = new HttpsAgent({ keepAlive: true, maxSockets: 4 });
    // A kept-alive connection opened before the swap and a slow request straddling it.
    expect((await get(port, 'shop.berth.test', '/', keepAlive)).status).toBe(200);
    const slow = get(port, 'shop.berth.test', '/slow', keepAlive);
    let ok = 0;
    const failures: string[] = [];
    const retried = { count: 0 };
    let running = true;
    const loop = (async () => {
      for (let i = 0; running && i < loadRequestsMax; i++) {
        try {
          const res = await get(
            port,
            'shop.berth.test',
            '/',
            i % 2 === 0 ? keepAlive : undefined,
            retried,
          );
          if (res.status === 200) ok++;
          else failures.push(`status ${res.status}`);
        } catch (error) {
          failures.push(String(error));
        }
      }
    })();
    await c()
      .api(0)
      .request('/v1/certificates/shop.berth.test/renew', { method: 'POST', body: {} });
    const after = await waitValid('shop.berth.test', before.serial as string);
    for (const node of c().nodes) {
      await c().waitFor(
        async () =>
          (await handshake(node.httpsPort, 'shop.berth.test')).serial ===
          (after.serial as string).toLowerCase(),
        { what: `node ${node.index} serving the renewed certificate`, timeoutMs: 10_000 },
      );
    }
    running = false;
    await loop;
    const slowAnswer = await slow;
    keepAlive.destroy();
    report.push(
      `renewal: ${ok} requests ok, ${failures.length} failed across the swap, ${retried.count} retried after an idle keep-alive connection was closed`,
    );
    expect(slowAnswer).toEqual({ status: 200, body: 'shop' });
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(after.notAfterMs as number).toBeGreaterThanOrEqual(before.notAfterMs as number);
  },
  120_000,
);

maybe(
  'a leader killed in the middle of an order ends with exactly one valid certificate',
  async () => {
    await moveLeaderOffValidator();
    const ordersBefore = (await accountOrders()).length;
    const leader = (await c().leader()) as number;
    const survivor = [0, 1, 2].find((i) => i !== leader) as number;
    const file = writeSpec(dir, 'late.yml', spec('late', 'late.berth.test'));
    const deploying = deployWithCli(c(), file, '45s', deployBoundMs);
    // Kill the leader as soon as the order is committed (placed at Pebble, not finished).
    const pending = await c().waitFor(
      () => {
        const keys = storedKeys(survivor, 'late.berth.test');
        return keys.orderUrl !== null && keys.orderKey !== null ? keys : undefined;
      },
      { what: 'the order for late.berth.test committed', timeoutMs: issueBoundMs },
    );
    const killedAtMs = Date.now();
    await c().kill9(leader);
    report.push(`killed leader node ${leader} with order ${pending.orderUrl} pending`);
    // The CLI follows the rollout through node 0's API, which may be the node killed.
    const deployed = await deploying;
    report.push(`deploy of late exited ${deployed.code} (it follows through node 0)`);
    const view = await waitValid('late.berth.test');
    const stored = storedKeys(survivor, 'late.berth.test');
    // Issued after the kill, by the new leader, with the key committed before the kill.
    expect(stored.issuedAtMs as number).toBeGreaterThan(killedAtMs);
    expect(stored.certKey).toBe(pending.orderKey as string);
    expect(stored.orderUrl).toBeNull();
    expect((await certificates()).filter((v) => v.host === 'late.berth.test')).toHaveLength(1);
    // Pebble holds exactly one new order for the account: the resumed one.
    const ordersAfter = await accountOrders();
    expect(ordersAfter.length).toBe(ordersBefore + 1);
    expect(ordersAfter).toContain(pending.orderUrl as string);
    const hs = await handshake(c().nodes[survivor]!.httpsPort, 'late.berth.test');
    expect(hs).toEqual({ serial: (view.serial as string).toLowerCase(), authorized: true });
    report.push(
      `certificate for late.berth.test issued ${(stored.issuedAtMs as number) - killedAtMs} ms after the kill`,
    );
    await c().restart(leader);
  },
  150_000,
);
