import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerCertificate, testCertificate } from '../router/tls-testing.ts';
import { Agent } from './agent.ts';
import { resolveConfig } from './config.ts';
import { initCluster } from './init.ts';

let dir: string;
let agent: Agent;
let adminToken: string;
let caPem: string;
let httpPort: number;
let httpsPort: number;

/** A port nothing listens on right now (the agent's 0 means "off", so tests pick one). */
function freePort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() });
  const port = probe.port as number;
  probe.stop(true);
  return port;
}

async function api(path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${adminToken}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${agent.apiUrl}${path}`, { ...init, headers, tls: { ca: caPem } } as RequestInit);
}

async function waitFor(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let rounds = 0; rounds < 400; rounds++) {
    if (await fn()) return;
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-router-tls-'));
  const init = await initCluster({
    dataDir: dir,
    clusterName: 'tls',
    nodeName: 'n1',
    peerAddress: '127.0.0.1:1',
    apiAddress: '127.0.0.1:1',
  });
  adminToken = init.adminToken;
  caPem = init.caPem;
  httpPort = freePort();
  httpsPort = freePort();
  const config = { nodeName: 'n1', dataDir: dir, apiPort: 0, peerPort: 0, httpPort, httpsPort };
  agent = await Agent.start(resolveConfig(config), {
    onFatal: (e) => {
      throw e;
    },
  });
  await waitFor('bootstrap', async () => (await api('/v1/nodes')).status === 200);
});

afterAll(async () => {
  await agent?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('an agent serves a route’s custom certificate over HTTPS and redirects HTTP to it', async () => {
  // Proves the wiring in Agent.start: secrets → state → router, on the configured ports.
  await expect(peerCertificate(httpsPort, 'a.test')).rejects.toThrow();
  const pair = await testCertificate(['a.test'], '5a');
  for (const [name, value] of [
    ['A_CERT', pair.certPem],
    ['A_KEY', pair.keyPem],
  ] as const) {
    const put = await api(`/v1/secrets/${name}`, {
      method: 'PUT',
      body: JSON.stringify({ value }),
    });
    expect(put.status).toBe(200);
  }
  const spec = {
    name: 'web',
    command: ['sh', '-c', 'sleep 3'],
    ports: { http: 8080 },
    routes: [
      {
        hosts: ['a.test'],
        tls: true,
        certificate: { certificate_pem: 'A_CERT', private_key_pem: 'A_KEY' },
      },
    ],
  };
  const deployed = await api('/v1/jobs', { method: 'POST', body: JSON.stringify(spec) });
  expect(deployed.status).toBe(200);
  await waitFor('the certificate on HTTPS', async () =>
    peerCertificate(httpsPort, 'a.test').then(
      (peer) => peer.serial === '5A',
      () => false,
    ),
  );
  const plain = await fetch(`http://127.0.0.1:${httpPort}/p?q=1`, {
    headers: { host: 'a.test' },
    redirect: 'manual',
  });
  expect(plain.status).toBe(308);
  expect(plain.headers.get('location')).toBe(`https://a.test:${httpsPort}/p?q=1`);

  expect((await api('/v1/jobs/web', { method: 'DELETE' })).status).toBe(200);
  await waitFor('HTTPS to close with its last certificate', async () =>
    peerCertificate(httpsPort, 'a.test').then(
      () => false,
      () => true,
    ),
  );
});
