import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../core/errors.ts';
import { compareApiVersions, DockerClient } from './client.ts';

// A fake daemon on a unix socket: enough to test negotiation and error mapping without Docker.
let daemonApiVersion = '1.45';
const socketPath = join(mkdtempSync(join(tmpdir(), 'berth-fake-docker-')), 'docker.sock');
const seenPaths: string[] = [];
const server = Bun.serve({
  unix: socketPath,
  fetch(req) {
    const path = new URL(req.url).pathname;
    seenPaths.push(path);
    if (path === '/version') {
      return Response.json({ ApiVersion: daemonApiVersion, Version: 'fake' });
    }
    if (path.endsWith('/containers/gone/json')) {
      return Response.json({ message: 'No such container: gone' }, { status: 404 });
    }
    return Response.json({ message: 'boom' }, { status: 500 });
  },
});
afterAll(() => server.stop(true));

test('compareApiVersions orders numerically, not lexically', () => {
  // Proves 1.9 < 1.10 < 1.41 as Docker means it.
  expect(compareApiVersions('1.9', '1.10')).toBeLessThan(0);
  expect(compareApiVersions('1.41', '1.41')).toBe(0);
  expect(compareApiVersions('1.43', '1.41')).toBeGreaterThan(0);
});

test('negotiation caps a newer daemon at the client version and versions every path', async () => {
  // Proves requests go to /v<negotiated>/… and that a newer daemon is asked for our newest.
  daemonApiVersion = '1.45';
  const client = new DockerClient(socketPath);
  expect(await client.connect()).toBe('1.43');
  const error = await client
    .call('GET', '/containers/gone/json', { codes: { 404: 'task_not_found' } })
    .catch((e) => e);
  expect(error).toBeInstanceOf(BerthError);
  expect(error.code).toBe('task_not_found');
  expect(error.details.dockerMessage).toBe('No such container: gone');
  expect(seenPaths).toContain('/v1.43/containers/gone/json');
  const other = await client.call('POST', '/x').catch((e) => e);
  expect(other.code).toBe('driver_error');
});

test('an older supported daemon is spoken to in its own version; a too-old one refused', async () => {
  // Proves negotiation downwards and the minimum.
  daemonApiVersion = '1.41';
  expect(await new DockerClient(socketPath).connect()).toBe('1.41');
  daemonApiVersion = '1.30';
  const error = await new DockerClient(socketPath).connect().catch((e) => e);
  expect(error.code).toBe('driver_unavailable');
});
