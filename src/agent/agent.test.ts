import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import {
  certificateInfo,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  signCsr,
  verifyChain,
} from '../pki/index.ts';
import { Agent } from './agent.ts';
import { resolveConfig } from './config.ts';
import { dataPaths, readTls, writeTls } from './data-dir.ts';
import { initCluster } from './init.ts';
import { signRenewal } from './rotation.ts';
import { signTaskSecretsRequest } from './task-secrets.ts';

const dayMs = 86_400_000;
let dir: string;
let agent: Agent;
let adminToken: string;
let caPem: string;

async function api(path: string, init: RequestInit = {}, token: string | null = adminToken) {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${agent.apiUrl}${path}`, { ...init, headers, tls: { ca: caPem } } as RequestInit);
}

async function waitFor(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function servedFingerprint(): Promise<string> {
  const port = Number(new URL(agent.apiUrl).port);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().fingerprint256.replaceAll(':', '').toLowerCase());
      socket.end();
    });
    socket.on('error', reject);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-agent-'));
  const init = await initCluster({
    dataDir: dir,
    clusterName: 'unit',
    nodeName: 'n1',
    peerAddress: '127.0.0.1:1',
    apiAddress: '127.0.0.1:1',
  });
  adminToken = init.adminToken;
  caPem = init.caPem;
  agent = await Agent.start(
    resolveConfig({ nodeName: 'n1', dataDir: dir, apiPort: 0, peerPort: 0, httpPort: 0 }),
    {
      onFatal: (e) => {
        throw e;
      },
    },
  );
  await waitFor('bootstrap', async () => (await api('/v1/nodes')).status === 200);
});

afterAll(async () => {
  await agent?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('berth agent, one node in process', () => {
  // Proves init + first start bootstrap the cluster: node 1 leads, is registered, and the admin token works.
  test('bootstraps from init', async () => {
    const status = (await (await api('/v1/status')).json()) as { role: string; leaderId: string };
    expect(status.role).toBe('leader');
    expect(status.leaderId).toBe('1');
    const nodes = (await (await api('/v1/nodes')).json()) as {
      items: { id: string; status: string }[];
    };
    expect(nodes.items.map((n) => n.id)).toEqual(['1']);
    expect((await api('/v1/status', {}, null)).status).toBe(401);
  });

  // Proves a secret round-trips through Raft and the state machine, and only ciphertext is stored.
  test('secrets are sealed in the replicated state', async () => {
    const value = `plain-${crypto.randomUUID()}`;
    expect(
      (await api('/v1/secrets/DB_URL', { method: 'PUT', body: JSON.stringify({ value }) })).status,
    ).toBe(200);
    const got = (await (await api('/v1/secrets/DB_URL')).json()) as { value: string };
    expect(got.value).toBe(value);
    agent.state.sqlite.run('PRAGMA wal_checkpoint(TRUNCATE)');
    for (const file of ['state.db', 'raft.db']) {
      const bytes = await Bun.file(join(dir, file)).text();
      expect(bytes.includes(value)).toBe(false);
    }
  });

  // Proves a join-token for another cluster, a garbage token and an unknown token are refused without a write.
  test('bad join requests change nothing', async () => {
    const before = ((await (await api('/v1/status')).json()) as { commitIndex: number })
      .commitIndex;
    const keys = await generateKeyPair();
    const body = {
      token: `berth-join-voter-${'0'.repeat(64)}-${'A'.repeat(43)}`,
      nodeName: 'evil',
      csrPem: await createCsr('evil', keys),
      peerAddress: '127.0.0.1:9',
      apiAddress: '127.0.0.1:9',
    };
    const foreign = await api(
      '/v1/cluster/join',
      { method: 'POST', body: JSON.stringify(body) },
      null,
    );
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('join_refused');
    const garbage = await api(
      '/v1/cluster/join',
      { method: 'POST', body: JSON.stringify({ ...body, token: 'nope' }) },
      null,
    );
    expect(((await garbage.json()) as { error: { code: string } }).error.code).toBe(
      'bad_join_token',
    );
    const extra = await api(
      '/v1/cluster/join',
      { method: 'POST', body: JSON.stringify({ ...body, extra: 1 }) },
      null,
    );
    expect(extra.status).toBe(400);
    const after = ((await (await api('/v1/status')).json()) as { commitIndex: number }).commitIndex;
    expect(after).toBe(before);
  });

  // Proves a renewal signed by the wrong key is refused, and a due certificate is rotated and served.
  test('certificate rotation', async () => {
    const paths = dataPaths(dir);
    const tls = readTls(paths);
    // A renewal signed by some other key is refused.
    const other = await generateKeyPair();
    const csrPem = await createCsr('node', other);
    const forged = await api(
      '/v1/cluster/renew',
      {
        method: 'POST',
        body: JSON.stringify({
          certPem: tls.certPem,
          csrPem,
          signature: await signRenewal(await exportPrivateKeyPem(other.privateKey), csrPem),
        }),
      },
      null,
    );
    expect(forged.status).toBe(403);

    // Nothing is due on a fresh certificate.
    expect(await agent.rotateCertificate()).toBe(false);
    // Age the certificate: issued 300 of its 365 days ago, so less than a third is left.
    const keys = await generateKeyPair();
    const old = await signCsr(
      { clusterName: 'unit', certPem: tls.caPem, keyPem: tls.caKeyPem! },
      await createCsr('n1', keys),
      {
        nodeId: 1,
        role: 'voter',
        validityDays: 365,
        dnsNames: ['localhost'],
        ipAddresses: [],
        nowMs: Date.now() - 300 * dayMs,
      },
    );
    writeTls(paths, { ...tls, certPem: old, keyPem: await exportPrivateKeyPem(keys.privateKey) });
    expect(await agent.rotateCertificate()).toBe(true);
    const renewed = readTls(paths).certPem;
    expect(certificateInfo(renewed).notAfterMs).toBeGreaterThan(Date.now() + 300 * dayMs);
    expect((await verifyChain(renewed, tls.caPem)).ok).toBe(true);
    expect(await servedFingerprint()).toBe(certificateInfo(renewed).fingerprintSha256);
    expect((await api('/v1/status')).status).toBe(200);
  });

  // Proves the leader hands a task's secrets only to the node that runs it, on a request signed by that node's key.
  test('task secrets for workers', async () => {
    const value = `tok-${crypto.randomUUID()}`;
    expect(
      (await api('/v1/secrets/API_TOKEN', { method: 'PUT', body: JSON.stringify({ value }) }))
        .status,
    ).toBe(200);
    const spec = {
      name: 'sleeper',
      command: ['sh', '-c', 'sleep 60'],
      secrets: ['API_TOKEN'],
      count: 1,
    };
    expect((await api('/v1/jobs', { method: 'POST', body: JSON.stringify(spec) })).status).toBe(
      200,
    );
    let allocId = '';
    await waitFor('a placement', async () => {
      const body = (await (await api('/v1/jobs/sleeper/allocations')).json()) as {
        items: { id: string }[];
      };
      allocId = body.items[0]?.id ?? '';
      return allocId !== '';
    });
    const tls = readTls(dataPaths(dir));
    const ask = (req: unknown) =>
      api('/v1/cluster/task-secrets', { method: 'POST', body: JSON.stringify(req) }, null);
    const good = await signTaskSecretsRequest(
      { certPem: tls.certPem, keyPem: tls.keyPem },
      allocId,
    );
    const res = await ask(good);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { env: Record<string, string> }).env).toEqual({
      API_TOKEN: value,
    });
    // Another key, an allocation that is not this node's, a stale request: all refused.
    const other = await generateKeyPair();
    const forged = await signTaskSecretsRequest(
      { certPem: tls.certPem, keyPem: await exportPrivateKeyPem(other.privateKey) },
      allocId,
    );
    expect((await ask(forged)).status).toBe(403);
    expect(
      (
        await ask(
          await signTaskSecretsRequest({ certPem: tls.certPem, keyPem: tls.keyPem }, 'nope'),
        )
      ).status,
    ).toBe(403);
    const stale = await signTaskSecretsRequest(
      { certPem: tls.certPem, keyPem: tls.keyPem },
      allocId,
      Date.now() - 10 * 60_000,
    );
    expect((await ask(stale)).status).toBe(403);
    expect((await ask({ allocId })).status).toBe(400);
    await api('/v1/jobs/sleeper', { method: 'DELETE' });
    await waitFor(
      'the sleeper to stop',
      async () => {
        const body = (await (await api('/v1/jobs/sleeper/allocations')).json()) as {
          items: { status: string }[];
        };
        return body.items.every((a) => a.status === 'complete');
      },
      20_000,
    );
  });

  // Proves the leader's dry run reports the scheduler's placement and commits nothing.
  test('plan is a dry run of the scheduler', async () => {
    const before = ((await (await api('/v1/status')).json()) as { commitIndex: number })
      .commitIndex;
    const spec = { name: 'dry', command: ['sh', '-c', 'sleep 60'], count: 1 };
    const res = await api('/v1/jobs/plan', { method: 'POST', body: JSON.stringify(spec) });
    expect(res.status).toBe(200);
    const plan = (await res.json()) as {
      version: number;
      changed: boolean;
      place: { node: string }[];
    };
    expect(plan).toMatchObject({ version: 1, changed: true, place: [{ node: '1' }] });
    const after = ((await (await api('/v1/status')).json()) as { commitIndex: number }).commitIndex;
    expect(after).toBe(before);
    expect((await api('/v1/jobs/dry')).status).toBe(404);
  });
});
