import { expect, test } from 'bun:test';
import type { TaskSpec } from '../driver.ts';
import { containerCreateBody, nanoCpusOf } from './container-spec.ts';

const task: TaskSpec = {
  allocId: 'a1',
  jobId: 'web',
  jobVersion: 7,
  nodeId: 'n1',
  name: 'web-a1',
  image: 'app:1',
  command: [],
  env: { MODE: 'prod' },
  secretEnv: { DB_PASSWORD: 'hunter2' },
  ports: { http: { host: 8080, container: 80 }, admin: { host: 8081, container: 81 } },
  volumes: [{ name: 'data', target: '/data' }],
  resources: { cpuMhz: 250, memoryMb: 128 },
  hostAddress: '10.0.0.5',
};

test('NanoCpus is MHz over the per-core clock, with Docker floor and no-limit zero', () => {
  // Proves the documented MHz → CPU conversion.
  expect(nanoCpusOf(1000, 1000)).toBe(1_000_000_000);
  expect(nanoCpusOf(250, 1000)).toBe(250_000_000);
  expect(nanoCpusOf(3000, 1500)).toBe(2_000_000_000);
  expect(nanoCpusOf(1, 1000)).toBe(10_000_000);
  expect(nanoCpusOf(0, 1000)).toBe(0);
});

test('the create body carries labels, bindings on the node address, limits, mounts', () => {
  // Proves the container is labelled for adoption and published on the node's address only.
  const body = containerCreateBody(task, { networkName: 'berth', cpuMhzPerCore: 1000 });
  expect(body.Labels).toEqual({
    'berth.job': 'web',
    'berth.alloc': 'a1',
    'berth.version': '7',
    'berth.node': 'n1',
  });
  expect(body.HostConfig.PortBindings).toEqual({
    '80/tcp': [{ HostIp: '10.0.0.5', HostPort: '8080' }],
    '81/tcp': [{ HostIp: '10.0.0.5', HostPort: '8081' }],
  });
  expect(body.HostConfig.Memory).toBe(128 * 1024 * 1024);
  expect(body.HostConfig.NanoCpus).toBe(250_000_000);
  expect(body.HostConfig.Mounts).toEqual([
    { Type: 'volume', Source: 'data', Target: '/data', ReadOnly: false },
  ]);
  expect('Cmd' in body).toBe(false);
  // With a cluster identity, containers are scoped to it (two clusters, one Docker Engine).
  const scoped = containerCreateBody(task, {
    networkName: 'berth',
    cpuMhzPerCore: 1000,
    cluster: 'c0ffee',
  });
  expect(scoped.Labels['berth.cluster']).toBe('c0ffee');
});

test('secrets go to the environment and nowhere else in the body', () => {
  // Proves the secret value appears exactly once: in Env, never in labels or elsewhere.
  const body = containerCreateBody(task, { networkName: 'berth', cpuMhzPerCore: 1000 });
  expect(body.Env).toContain('DB_PASSWORD=hunter2');
  expect(JSON.stringify(body.Labels)).not.toContain('hunter2');
  expect(JSON.stringify(body).split('hunter2').length - 1).toBe(1);
});
