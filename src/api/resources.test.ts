import { describe, expect, test } from 'bun:test';
import { createHarness, errorCode, sampleJob } from './test-harness.ts';

describe('cluster reads', () => {
  test('status reports this node without a read barrier', async () => {
    // Proves /v1/status answers the node's own view and is not held behind a barrier.
    const h = await createHarness();
    const barriers = h.service.barrierCount();
    const res = await h.call('GET', '/v1/status', { token: h.tokens.read });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      nodeId: 'node-1',
      role: 'leader',
      leaderId: 'node-1',
      commitIndex: h.commitIndex(),
    });
    expect(h.service.barrierCount()).toBe(barriers);
  });

  test('nodes, allocations and deployments list what was committed, with filters', async () => {
    // Proves the list routes and the job/node filters reach the service.
    const h = await createHarness();
    h.service.record('node.registered', {
      id: 'n1',
      name: 'one',
      address: '10.0.0.1',
      status: 'ready',
      voter: true,
    });
    h.service.record('node.registered', {
      id: 'n2',
      name: 'two',
      address: '10.0.0.2',
      status: 'ready',
      voter: false,
    });
    h.service.record('allocation.updated', {
      id: 'a1',
      job: 'web',
      jobVersion: 1,
      node: 'n1',
      status: 'running',
    });
    h.service.record('allocation.updated', {
      id: 'a2',
      job: 'web',
      jobVersion: 1,
      node: 'n2',
      status: 'running',
    });
    h.service.record('allocation.updated', {
      id: 'a3',
      job: 'api',
      jobVersion: 3,
      node: 'n1',
      status: 'pending',
    });
    h.service.record('deployment.updated', {
      id: 'd1',
      job: 'web',
      jobVersion: 1,
      status: 'successful',
    });
    h.service.record('deployment.updated', {
      id: 'd2',
      job: 'api',
      jobVersion: 3,
      status: 'running',
    });
    const ids = async (path: string) =>
      (
        (await (await h.call('GET', path, { token: h.tokens.read })).json()) as {
          items: { id: string }[];
        }
      ).items.map((i) => i.id);
    expect(await ids('/v1/nodes')).toEqual(['n1', 'n2']);
    expect(await ids('/v1/allocations')).toEqual(['a1', 'a2', 'a3']);
    expect(await ids('/v1/allocations?job=web')).toEqual(['a1', 'a2']);
    expect(await ids('/v1/allocations?node=n1')).toEqual(['a1', 'a3']);
    expect(await ids('/v1/allocations?job=web&node=n2')).toEqual(['a2']);
    expect(await ids('/v1/allocations?limit=1')).toEqual(['a1']);
    expect(await ids('/v1/deployments?job=api')).toEqual(['d2']);
    expect(await ids('/v1/deployments?stale=true')).toEqual(['d1', 'd2']);
  });
});

describe('/v1/operator/raft', () => {
  test('peers are listed; transfer and remove are delegated and their errors mapped', async () => {
    // Proves the operator routes reach the service and its codes become statuses.
    const h = await createHarness();
    const peers = await h.call('GET', '/v1/operator/raft/peers', { token: h.tokens.read });
    expect(await peers.json()).toEqual({
      items: [{ id: 1, address: '127.0.0.1', voter: true, leader: true }],
    });
    const before = h.commitIndex();
    const self = await h.call('POST', '/v1/operator/raft/transfer-leadership', { body: { to: 1 } });
    expect(self.status).toBe(409);
    expect(await errorCode(self)).toBe('already_leader');
    const unknown = await h.call('POST', '/v1/operator/raft/transfer-leadership', {
      body: { to: 9 },
    });
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe('peer_not_found');
    const only = await h.call('POST', '/v1/operator/raft/remove-peer', { body: { id: 1 } });
    expect(only.status).toBe(409);
    const bad = await h.call('POST', '/v1/operator/raft/remove-peer', { body: { id: -1 } });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('invalid_body');
    expect(h.commitIndex()).toBe(before);
  });
});

describe('/v1/secrets', () => {
  test('put, list, read (admin), delete; the plaintext never enters the log', async () => {
    // Proves the secret lifecycle and that the log and the event data hold no plaintext.
    const h = await createHarness();
    const value = 'postgres://user:hunter2@db/app';
    const put = await h.call('PUT', '/v1/secrets/DATABASE_URL', { body: { value } });
    expect(put.status).toBe(200);
    await h.call('PUT', '/v1/secrets/DATABASE_URL', { body: { value: `${value}?ssl=1` } });
    const list = await h.call('GET', '/v1/secrets', { token: h.tokens.read });
    const items = ((await list.json()) as { items: Array<Record<string, unknown>> }).items;
    expect(items).toEqual([{ name: 'DATABASE_URL', version: 2, updatedAtMs: expect.any(Number) }]);
    const read = await h.call('GET', '/v1/secrets/DATABASE_URL');
    expect(read.headers.get('cache-control')).toBe('no-store');
    expect(await read.json()).toEqual({ name: 'DATABASE_URL', value: `${value}?ssl=1` });
    const logText = JSON.stringify(h.service.events.read(1, h.commitIndex()));
    expect(logText).not.toContain('hunter2');
    const del = await h.call('DELETE', '/v1/secrets/DATABASE_URL', { token: h.tokens.deploy });
    expect(del.status).toBe(200);
    const gone = await h.call('GET', '/v1/secrets/DATABASE_URL');
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe('secret_not_found');
  });

  test('bad names and oversized values are refused without writing', async () => {
    // Proves the secret name pattern and the value size bound at the edge.
    const h = await createHarness();
    const before = h.commitIndex();
    const badName = await h.call('PUT', '/v1/secrets/1bad', { body: { value: 'x' } });
    expect(badName.status).toBe(400);
    expect(await errorCode(badName)).toBe('invalid_body');
    const big = await h.call('PUT', '/v1/secrets/BIG', { body: { value: 'x'.repeat(70_000) } });
    expect(big.status).toBe(400);
    const missing = await h.call('DELETE', '/v1/secrets/NOPE');
    expect(missing.status).toBe(404);
    expect(h.commitIndex()).toBe(before);
  });
});

describe('/v1/tokens', () => {
  test('create returns the plaintext once; it works; revoke makes it 401', async () => {
    // Proves the token lifecycle end to end, and that list shows no secret material.
    const h = await createHarness();
    const created = await h.call('POST', '/v1/tokens', { body: { name: 'ci', role: 'deploy' } });
    expect(created.status).toBe(201);
    const token = (await created.json()) as { id: string; token: string; role: string };
    expect(token.role).toBe('deploy');
    const use = await h.call('POST', '/v1/jobs', { token: token.token, body: sampleJob });
    expect(use.status).toBe(200);
    const list = await h.call('GET', '/v1/tokens');
    const listed = JSON.stringify(await list.json());
    expect(listed).toContain(token.id);
    expect(listed).not.toContain(token.token);
    const logText = JSON.stringify(h.service.events.read(1, h.commitIndex()));
    expect(logText).not.toContain(token.token);
    const revoke = await h.call('DELETE', `/v1/tokens/${token.id}`);
    expect(revoke.status).toBe(200);
    const after = await h.call('GET', '/v1/jobs', { token: token.token });
    expect(after.status).toBe(401);
    const again = await h.call('DELETE', `/v1/tokens/${token.id}`);
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe('token_not_found');
  });

  test('an unknown role is invalid_body', async () => {
    // Proves the role enum is enforced at the edge.
    const h = await createHarness();
    const before = h.commitIndex();
    const res = await h.call('POST', '/v1/tokens', { body: { name: 'x', role: 'root' } });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('invalid_body');
    expect(h.commitIndex()).toBe(before);
  });
});

describe('/metrics', () => {
  test('counts requests by route template and status and times them', async () => {
    // Proves the exposition content type and bounded route labels (templates, not paths).
    const h = await createHarness();
    await h.call('GET', '/v1/jobs/one');
    await h.call('GET', '/v1/jobs/two');
    await h.call('GET', '/v1/nowhere');
    const res = await h.call('GET', '/metrics', { token: h.tokens.read });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain(
      'berth_api_requests_total{method="GET",route="/v1/jobs/:name",status="404"} 2\n',
    );
    expect(text).toContain(
      'berth_api_requests_total{method="GET",route="unmatched",status="404"} 1\n',
    );
    expect(text).toContain(
      'berth_api_request_duration_seconds_count{method="GET",route="/v1/jobs/:name"} 2\n',
    );
    expect(text).not.toContain('/v1/jobs/one');
  });
});
