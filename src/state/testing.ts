/**
 * Test helpers for the state machine: a state database with a local log and the state
 * actor's consumer, and builders for valid command payloads. Used by tests only.
 */
import type { StateCommand, StateCommandType } from '../../actors/state/commands.ts';
import { stateCommands } from '../../actors/state/commands.ts';
import type { Logger } from '../core/logger.ts';
import type { Prng } from '../core/prng.ts';
import type { LogEntry } from '../log/committed-log.ts';
import { LocalLog } from '../log/local-log.ts';
import { LogConsumer } from '../mailbox/log-consumer.ts';
import { openStateDatabase } from '../storage/state-db.ts';
import { createStateMachine } from './state-machine.ts';

/** A state database at `path` (default in memory) fed by a local log, drained on demand. */
export function openTestState(options: { path?: string; logger?: Logger } = {}) {
  const opened = openStateDatabase(options.path ?? ':memory:', { synchronous: 'FULL' });
  const log = new LocalLog(opened, stateCommands, { logger: options.logger });
  const consumer = new LogConsumer({
    db: opened.db,
    log,
    kinds: stateCommands,
    actor: createStateMachine({ logger: options.logger }),
    logger: options.logger,
  });
  /** Appends a command and applies everything committed so far. */
  function submit<T extends StateCommandType>(type: T, data: StateCommand<T>): LogEntry {
    const entry = log.append(type, data);
    consumer.drain();
    return entry;
  }
  return { ...opened, log, consumer, submit };
}

export type TestState = ReturnType<typeof openTestState>;

export function nodeRegistered(
  id: string,
  over: Partial<StateCommand<'node_registered'>> = {},
): StateCommand<'node_registered'> {
  return {
    id,
    name: `name-${id}`,
    address: `10.0.0.1:7000`,
    apiAddress: `10.0.0.1:7001`,
    role: 'worker',
    labels: { zone: 'a', disk: 'ssd' },
    resources: { cpuMhz: 4000, memoryMb: 8192 },
    atMs: 1_000,
    ...over,
  };
}

export function jobRegistered(
  id: string,
  over: Partial<StateCommand<'job_registered'>> = {},
): StateCommand<'job_registered'> {
  return { id, spec: { image: 'nginx:1', count: 2 }, atMs: 2_000, ...over };
}

export function placement(id: string, nodeId: string) {
  return {
    id,
    group: 'web',
    name: `web.web[${id}]`,
    nodeId,
    resources: { cpuMhz: 500, memoryMb: 256 },
    ports: { http: 8080 },
  };
}

export function planCommitted(
  over: Partial<StateCommand<'plan_committed'>> = {},
): StateCommand<'plan_committed'> {
  return {
    evalId: 'e1',
    jobId: 'web',
    jobVersion: 1,
    place: [],
    stop: [],
    update: [],
    atMs: 3_000,
    ...over,
  };
}

/** A 64-character lowercase hex digest built from one character, for hash fields. */
export function fakeHash(ch: string): string {
  return ch.repeat(64);
}

/** One generated command, ready for `log.append`. */
export type GeneratedCommand = { type: StateCommandType; data: unknown };

/** Id pools small enough that generated commands often collide with the current state. */
const nodeIds = ['n1', 'n2', 'n3', 'n4'];
const jobIds = ['web', 'api', 'worker'];
const allocIds = Array.from({ length: 12 }, (_, i) => `a${i}`);
const pool = (prefix: string) => Array.from({ length: 5 }, (_, i) => `${prefix}${i}`);

/** What one generator draws from: the seeded PRNG, the stamped time and the entry's ordinal. */
interface Draw {
  prng: Prng;
  atMs: number;
  ordinal: number;
}

type Generator = (d: Draw) => GeneratedCommand;

const clusterGenerators: Generator[] = [
  ({ prng, atMs }) => ({
    type: 'node_registered',
    data: nodeRegistered(prng.pick(nodeIds), {
      atMs,
      labels: { z: prng.pick(['a', 'b']), rack: `${prng.int(0, 3)}` },
    }),
  }),
  ({ prng, atMs }) => ({
    type: 'node_status',
    data: { id: prng.pick(nodeIds), status: prng.pick(['up', 'down', 'draining']), atMs },
  }),
  ({ prng, atMs }) => ({ type: 'node_removed', data: { id: prng.pick(nodeIds), atMs } }),
  ({ prng, atMs }) => ({
    type: 'job_registered',
    data: jobRegistered(prng.pick(jobIds), { spec: { n: prng.int(0, 9) }, atMs }),
  }),
  ({ prng, atMs }) => ({ type: 'job_stopped', data: { id: prng.pick(jobIds), atMs } }),
  ({ prng, atMs, ordinal }) => ({
    type: 'job_maintenance',
    data: {
      id: prng.pick(jobIds),
      enabled: prng.chance(0.6),
      message: prng.chance(0.5) ? `m${ordinal}` : undefined,
      atMs,
    },
  }),
  ({ prng, atMs }) => {
    const placed = prng.pick(allocIds);
    const stoppable = allocIds.filter((id) => id !== placed);
    const data = planCommitted({
      evalId: prng.pick(pool('e')),
      jobId: prng.pick(jobIds),
      jobVersion: prng.int(1, 3),
      place: [placement(placed, prng.pick(nodeIds))],
      stop: prng.chance(0.5) ? [{ id: prng.pick(stoppable), reason: 'r' }] : [],
      deployment: prng.chance(0.3) ? { id: prng.pick(pool('d')) } : undefined,
      atMs,
    });
    return { type: 'plan_committed', data };
  },
  ({ prng, atMs, ordinal }) => ({
    type: 'allocation_status',
    data: {
      id: prng.pick(allocIds),
      status: prng.pick(['running', 'healthy', 'failed', 'complete', 'pending']),
      detail: `d${ordinal}`,
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'deployment_status',
    data: {
      id: prng.pick(pool('d')),
      status: prng.pick(['paused', 'running', 'successful', 'failed']),
      detail: '',
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'deployment_promoted',
    data: { id: prng.pick(pool('d')), atMs },
  }),
  ({ prng, atMs }) => ({
    type: 'evaluation_created',
    data: {
      id: prng.pick(pool('e')),
      jobId: prng.pick(jobIds),
      triggeredBy: 'job-register',
      priority: 50,
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'evaluation_updated',
    data: {
      id: prng.pick(pool('e')),
      status: prng.pick(['blocked', 'complete']),
      detail: '',
      atMs,
    },
  }),
];

const accessGenerators: Generator[] = [
  ({ prng, atMs }) => ({
    type: 'secret_set',
    data: { name: prng.pick(['A', 'B']), ciphertext: 'AAAA', nonce: 'BBBB', keyId: 'k1', atMs },
  }),
  ({ prng, atMs }) => ({ type: 'secret_removed', data: { name: prng.pick(['A', 'B']), atMs } }),
  ({ prng, atMs }) => ({
    type: 'token_created',
    data: {
      id: prng.pick(pool('t')),
      name: 'n',
      role: 'read-only',
      hash: fakeHash(prng.pick(['a', 'b', 'c'])),
      atMs,
    },
  }),
  ({ prng, atMs }) => ({ type: 'token_revoked', data: { id: prng.pick(pool('t')), atMs } }),
  ({ prng, atMs }) => ({
    type: 'join_token_created',
    data: {
      id: prng.pick(pool('j')),
      hash: fakeHash(prng.pick(['d', 'e', 'f'])),
      role: 'worker',
      expiresAtMs: atMs + prng.int(0, 3_000),
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'join_token_used',
    data: { id: prng.pick(pool('j')), nodeId: prng.pick(nodeIds), atMs },
  }),
];

const certHosts = ['a.example.com', 'b.example.com'];
const sealedKey = { keyCiphertext: 'AAAA', keyNonce: 'BBBB', keyId: 'k1' };

const certGenerators: Generator[] = [
  ({ prng, atMs }) => ({
    type: 'cert_order_started',
    data: {
      host: prng.pick(certHosts),
      orderUrl: `https://acme.test/order/${prng.int(1, 3)}`,
      ...sealedKey,
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'acme_challenge_set',
    data: {
      token: prng.pick(['tok1', 'tok2', 'tok3']),
      keyAuthorization: 'tok.thumb',
      host: prng.pick(certHosts),
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'acme_challenge_cleared',
    data: { token: prng.pick(['tok1', 'tok2', 'tok3']), atMs },
  }),
  ({ prng, atMs }) => ({
    type: 'certificate_issued',
    data: {
      host: prng.pick(certHosts),
      certPem: 'PEM',
      ...sealedKey,
      issuer: 'Test CA',
      serial: String(prng.int(1, 1000)),
      notBeforeMs: atMs,
      // Sometimes zero-length, so the rejection path is exercised too.
      notAfterMs: atMs + prng.int(0, 90) * 86_400_000,
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'cert_order_failed',
    data: {
      host: prng.pick(certHosts),
      error: 'boom',
      attempts: prng.int(1, 5),
      nextAttemptAtMs: atMs + 1_000,
      atMs,
    },
  }),
  ({ prng, atMs }) => ({
    type: 'cert_renew_requested',
    data: { host: prng.pick(certHosts), atMs },
  }),
];

/**
 * A seeded mix of every command over small id pools, so that many entries collide with
 * the current state (unknown ids, terminal statuses, used tokens) and get rejected.
 * Every payload is schema-valid; `atMs` only moves forward, as a leader would stamp it.
 */
export function generateCommands(prng: Prng, count: number): GeneratedCommand[] {
  const generators = [...clusterGenerators, ...accessGenerators, ...certGenerators];
  let atMs = 1_000;
  const out: GeneratedCommand[] = [];
  for (let ordinal = 0; ordinal < count; ordinal++) {
    atMs += prng.int(1, 500);
    out.push(prng.pick(generators)({ prng, atMs, ordinal }));
  }
  return out;
}

/** Appends every command and drains the consumer to the end. */
export function applyAll(state: TestState, commands: readonly GeneratedCommand[]): void {
  for (const { type, data } of commands) state.log.append(type, data);
  // Bounded by the log's length: each drain applies at least one batch.
  while (state.consumer.drain().status === 'more') {}
}
