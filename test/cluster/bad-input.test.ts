/**
 * What a two-node cluster (a voter and a worker, real processes) refuses: spent, forged
 * and foreign join tokens, garbage join bodies, and peer connections without a cluster
 * certificate — none of which may commit anything. Then: a secret's plaintext is found
 * in no database file (WAL included) and no log line, even at BERTH_LOG=debug.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  certificateInfo,
  createClusterCa,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  signCsr,
} from '../../src/pki/index.ts';
import { selfSignedCert } from '../support/openssl-cert.ts';
import { runCli, TestCluster } from './harness.ts';

/** How long a refused peer connection is given to be cut, in ms (a bound, not a timing check). */
const peerProbeTimeoutMs = 8_000;
/** Files read at most when scanning data directories for a plaintext. */
const scanFilesMax = 500;

const cluster = new TestCluster({
  clusterName: 'refuse',
  logLevel: 'debug',
  // Snapshots early, so snapshot bytes are among the files scanned for the plaintext.
  env: { BERTH_SNAPSHOT_ENTRIES: '5' },
});

let leader = 0;
/** The token node 1 joined with: spent. */
let spentToken = '';

async function commitIndex(): Promise<number> {
  return (await cluster.status(leader))?.commitIndex ?? -1;
}

/** POSTs a raw body to /v1/cluster/join on node `i`; resolves with status and error code. */
async function postJoin(i: number, body: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(`https://127.0.0.1:${cluster.nodes[i]?.apiPort}/v1/cluster/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    tls: { ca: cluster.caPem },
    signal: AbortSignal.timeout(10_000),
  } as RequestInit);
  const json = (await res.json().catch(() => null)) as { error?: { code: string } } | null;
  return { status: res.status, code: json?.error?.code };
}

/** A well-formed join request body with a fresh key's CSR. */
async function joinBody(token: string, extra: Record<string, unknown> = {}) {
  const keys = await generateKeyPair();
  return {
    token,
    nodeName: 'intruder',
    csrPem: await createCsr('intruder', keys),
    peerAddress: '127.0.0.1:1',
    apiAddress: '127.0.0.1:2',
    ...extra,
  };
}

/** The token's secret part replaced by random bytes (same role, same CA fingerprint). */
function forged(token: string): string {
  const prefix = /^berth-join-(voter|worker)-[0-9a-f]{64}-/.exec(token)?.[0];
  if (!prefix) throw new Error('not a join token');
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** How many inbound peer connections node 0 has logged as refused for their certificate. */
function refusalsLogged(): number {
  return readFileSync(cluster.nodes[0]?.logPath as string, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"peer connection refused"') && l.includes('untrusted_certificate'))
    .length;
}

interface ProbeResult {
  errored: boolean;
  dataBytes: number;
  closed: boolean;
}

/** Opens a TLS connection to node 0's peer port and reports how the server treated it. */
function probePeerPort(tls: Record<string, unknown>): Promise<ProbeResult> {
  const port = cluster.nodes[0]?.peerPort as number;
  const result: ProbeResult = { errored: false, dataBytes: 0, closed: false };
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(result), peerProbeTimeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(result);
    };
    Bun.connect({
      hostname: '127.0.0.1',
      port,
      tls: { rejectUnauthorized: false, ...tls },
      socket: {
        open(socket) {
          // A frame header and a few bytes: an accepting server would have to read them.
          socket.write(new Uint8Array([0, 0, 0, 4, 1, 2, 3, 4]));
        },
        data(_socket, data) {
          result.dataBytes += data.length;
        },
        error() {
          result.errored = true;
        },
        close(_socket, error) {
          if (error) result.errored = true;
          result.closed = true;
          done();
        },
        connectError() {
          result.errored = true;
          done();
        },
      },
    }).catch(() => {
      result.errored = true;
      done();
    });
  });
}

/**
 * Reads every file of the cluster's directory (data dirs and agent logs, not the CLI
 * config, which holds the admin token) and reports which ones contain each needle, as
 * text or base64.
 */
function scanFor(needles: string[]): { dbFiles: string[]; hits: Map<string, string[]> } {
  const files = filesUnder(cluster.dir).filter((f) => !f.includes('cli-config'));
  const hits = new Map<string, string[]>();
  for (const f of files) {
    const bytes = readFileSync(f);
    for (const n of needles) {
      if (bytes.includes(n) || bytes.includes(Buffer.from(n).toString('base64'))) {
        hits.set(n, [...(hits.get(n) ?? []), f]);
      }
    }
  }
  return { dbFiles: files.filter((f) => /\.db(-wal|-shm|-journal)?$/.test(f)), hits };
}

/** Every regular file under `dir`, depth first, at most `scanFilesMax`. */
function filesUnder(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (out.length >= scanFilesMax) break;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) filesUnder(path, out);
    else out.push(path);
  }
  return out;
}

beforeAll(async () => {
  await cluster.init();
  spentToken = await cluster.joinToken('worker');
  await cluster.join('worker', 0, spentToken);
  leader = await cluster.waitFor(() => cluster.leader(), { what: 'a leader' });
  // Settle before comparing commit indexes: both nodes up, nothing left to propose.
  await cluster.waitFor(
    async () => {
      const { items } = await cluster
        .api(leader)
        .request<{ items: { status: string }[] }>('/v1/nodes');
      return items.length === 2 && items.every((n) => n.status === 'up');
    },
    { what: 'both nodes to be up' },
  );
}, 60_000);

afterAll(async () => {
  await cluster.destroy();
}, 30_000);

describe('join refusals', () => {
  test('a spent join token is refused with 403 join_refused and commits nothing', async () => {
    // Proves join tokens are single-use: the token node 1 joined with cannot join another node.
    const before = await commitIndex();
    const again = await postJoin(0, JSON.stringify(await joinBody(spentToken)));
    expect(again).toEqual({ status: 403, code: 'join_refused' });
    expect(await commitIndex()).toBe(before);
  }, 30_000);

  test('a token with the right fingerprint but a forged secret is refused (403 join_refused)', async () => {
    // Proves the API checks the token's secret against the stored hash, not just its shape (stands in for an expired token: the API's shortest ttl is 60 s).
    const token = forged(await cluster.joinToken('voter'));
    const before = await commitIndex();
    expect(await postJoin(0, JSON.stringify(await joinBody(token)))).toEqual({
      status: 403,
      code: 'join_refused',
    });
    // Through the follower too: it forwards the join to the leader, which refuses it.
    expect(await postJoin(1, JSON.stringify(await joinBody(token)))).toEqual({
      status: 403,
      code: 'join_refused',
    });
    expect(await commitIndex()).toBe(before);
  }, 30_000);

  test("a token made for another cluster's CA: the joiner stops with ca_mismatch, the API refuses it", async () => {
    // Proves the joiner pins the CA by the token's fingerprint before sending anything, and the server refuses foreign tokens too.
    const other = await createClusterCa({ clusterName: 'other', validityDays: 1 });
    const foreignFingerprint = certificateInfo(other.certPem).fingerprintSha256;
    const token = `berth-join-worker-${foreignFingerprint}-${randomBytes(32).toString('base64url')}`;
    const before = await commitIndex();
    const res = await runCli(
      [
        'server',
        'join',
        `127.0.0.1:${cluster.nodes[0]?.apiPort}`,
        '--token',
        token,
        '--data-dir',
        join(cluster.dir, 'never-joined'),
        '--json',
      ],
      { BERTH_CONFIG_DIR: cluster.configDir },
    );
    expect(res.code).not.toBe(0);
    expect(JSON.parse(res.stderr.trim().split('\n').at(-1) as string).error.code).toBe(
      'ca_mismatch',
    );
    expect(await postJoin(0, JSON.stringify(await joinBody(token)))).toEqual({
      status: 403,
      code: 'join_refused',
    });
    expect(await commitIndex()).toBe(before);
  }, 30_000);

  test('garbage join bodies answer 400 with stable codes and commit nothing', async () => {
    // Proves the join route parses its body at the trust boundary: bad JSON, unknown fields, malformed tokens.
    const token = await cluster.joinToken('worker');
    const before = await commitIndex();
    expect(await postJoin(0, '{"token": ')).toEqual({ status: 400, code: 'bad_json' });
    expect(await postJoin(0, JSON.stringify(await joinBody(token, { admin: true })))).toEqual({
      status: 400,
      code: 'invalid_body',
    });
    expect(await postJoin(0, JSON.stringify({ token }))).toEqual({
      status: 400,
      code: 'invalid_body',
    });
    expect(await postJoin(0, JSON.stringify(await joinBody('berth-join-nope')))).toEqual({
      status: 400,
      code: 'bad_join_token',
    });
    expect(await commitIndex()).toBe(before);
  }, 30_000);

  test('a join with a malformed CSR answers 400 bad_csr and commits nothing', async () => {
    // Proves a garbage CSR is a client error with a stable code (not a 500) and commits nothing.
    const token = await cluster.joinToken('worker');
    const before = await commitIndex();
    const bad = await postJoin(0, JSON.stringify(await joinBody(token, { csrPem: 'not a csr' })));
    expect(bad).toEqual({ status: 400, code: 'bad_csr' });
    expect(await commitIndex()).toBe(before);
  }, 30_000);
});

describe('peer port', () => {
  test('a TLS connection without a client certificate is cut before any data', async () => {
    // Proves the peer transport demands a client certificate (mutual TLS) and commits nothing for a stranger.
    const before = await commitIndex();
    const refusedBefore = refusalsLogged();
    const result = await probePeerPort({ ca: cluster.caPem });
    expect(result).toEqual({ errored: true, dataBytes: 0, closed: true });
    await cluster.waitFor(() => refusalsLogged() > refusedBefore, {
      what: 'node 0 to log the refused peer connection',
    });
    expect(await commitIndex()).toBe(before);
  }, 20_000);

  test('a TLS connection with a certificate from another CA is cut before any data', async () => {
    // Proves the peer transport verifies client certificates against the cluster CA.
    const other = await createClusterCa({ clusterName: 'other', validityDays: 1 });
    const keys = await generateKeyPair();
    const certPem = await signCsr(other, await createCsr('intruder', keys), {
      nodeId: 99,
      role: 'voter',
      validityDays: 1,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const before = await commitIndex();
    const refusedBefore = refusalsLogged();
    const result = await probePeerPort({
      ca: cluster.caPem,
      cert: certPem,
      key: await exportPrivateKeyPem(keys.privateKey),
    });
    expect(result).toEqual({ errored: true, dataBytes: 0, closed: true });
    await cluster.waitFor(() => refusalsLogged() > refusedBefore, {
      what: 'node 0 to log the refused peer connection',
    });
    expect(await commitIndex()).toBe(before);
  }, 20_000);
});

describe('tls routes', () => {
  /** The job document a tls route with a custom certificate from secrets CRT_x / KEY_x. */
  function tlsJob(name: string, host: string, suffix: string) {
    return {
      name,
      command: ['sleep', '60'],
      ports: { http: 8080 },
      routes: [
        {
          hosts: [host],
          tls: true,
          certificate: { certificate_pem: `CRT_${suffix}`, private_key_pem: `KEY_${suffix}` },
        },
      ],
    };
  }

  async function refusal(body: unknown): Promise<{ status: number; code?: string }> {
    const res = await cluster.api(leader).raw('/v1/jobs', { method: 'POST', body });
    const json = (await res.json().catch(() => null)) as { error?: { code: string } } | null;
    return { status: res.status, code: json?.error?.code };
  }

  test('an invalid host name and a certificate that does not match its key are refused; nothing is stored', async () => {
    // Proves issue 8's bad input on a real cluster: clear codes, no job, no new entry.
    const suffix = randomBytes(4).toString('hex');
    const cert = selfSignedCert(['shop.example.com']);
    const other = selfSignedCert(['shop.example.com']);
    for (const [name, value] of [
      [`CRT_${suffix}`, cert.certPem],
      [`KEY_${suffix}`, other.keyPem],
    ] as const) {
      await cluster
        .api(leader, 15_000)
        .request(`/v1/secrets/${name}`, { method: 'PUT', body: { value } });
    }
    const before = await commitIndex();
    expect(await refusal(tlsJob('mismatch', 'shop.example.com', suffix))).toEqual({
      status: 400,
      code: 'certificate_key_mismatch',
    });
    expect(await refusal(tlsJob('badhost', 'bad_host!.example.com', suffix))).toMatchObject({
      status: 400,
    });
    expect(await refusal(tlsJob('nosecret', 'shop.example.com', 'missing'))).toEqual({
      status: 400,
      code: 'certificate_secret_missing',
    });
    expect(await commitIndex()).toBe(before);
    const jobs = await cluster.api(leader).request<{ items: { name: string }[] }>('/v1/jobs');
    expect(jobs.items.map((j) => j.name)).not.toContain('mismatch');
    const certs = await cluster.api(leader).request<{ items: unknown[] }>('/v1/certificates');
    expect(certs.items).toEqual([]);
  }, 30_000);
});

describe('secrets at rest', () => {
  test("a secret's plaintext is in no node's database files (WAL included) and no log line at debug", async () => {
    // Proves secrets are sealed before they enter the log (DESIGN.md §7) and logs never carry them.
    const name = `scan_${randomBytes(6).toString('hex')}`;
    const plaintext = `plain-${randomBytes(24).toString('hex')}`;
    const put = await cluster.api(1, 15_000).request<{ index: number }>(`/v1/secrets/${name}`, {
      method: 'PUT',
      body: { value: plaintext },
    });
    expect(put.index).toBeGreaterThan(0);
    const read = await cluster.api(0).request<{ value: string }>(`/v1/secrets/${name}`);
    expect(read.value).toBe(plaintext);
    // A few more writes so the snapshot duty (every 5 entries) has run past the secret.
    for (let n = 0; n < 6; n++) {
      await cluster.api(0, 15_000).request('/v1/secrets/padding', {
        method: 'PUT',
        body: { value: String(n) },
      });
    }
    await cluster.waitFor(
      async () => {
        const views = await Promise.all(cluster.liveIndexes().map((i) => cluster.status(i)));
        const target = views[leader]?.commitIndex ?? Number.POSITIVE_INFINITY;
        return views.every((v) => (v?.appliedIndex ?? -1) >= target);
      },
      { what: 'every node to apply the secret' },
    );
    // Scan while the agents run (their -wal files hold the newest pages), then again
    // after a clean stop has checkpointed everything into the main files.
    const running = scanFor([plaintext, name]);
    await cluster.stopAll();
    const stopped = scanFor([plaintext, name]);
    expect(running.dbFiles.some((f) => f.endsWith('-wal'))).toBe(true);
    for (const scan of [running, stopped]) {
      expect(scan.dbFiles.length).toBeGreaterThanOrEqual(4);
      expect(scan.hits.get(plaintext) ?? []).toEqual([]);
      // The scan does see replicated data: the secret's name is in both nodes' files.
      const withName = new Set((scan.hits.get(name) ?? []).map((f) => f.split('/').at(-2)));
      expect(withName.size).toBe(2);
    }
    // The log files were written by the agents (at BERTH_LOG=debug) and were scanned.
    for (const node of cluster.nodes) {
      expect(readFileSync(node.logPath, 'utf8')).toContain('"agent stopped"');
    }
  }, 60_000);
});
