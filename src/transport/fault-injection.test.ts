import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeId, RaftMessage } from '../../actors/leader-election/types.ts';
import { SimClock } from '../core/clock.ts';
import { BerthError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { createLogger } from '../core/logger.ts';
import { createPrng } from '../core/prng.ts';
import { InProcessNetwork, type Transport } from '../raft/transport.ts';
import {
  FaultInjectingTransport,
  parseFaults,
  testFaultsFileEnv,
  withTestFaults,
} from './fault-injection.ts';
import { heartbeat } from './testing.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-faults-'));
  dirs.push(dir);
  return dir;
}

/** Lets the in-process network's setImmediate flushes run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

/** Node 1 wrapped by the fault injector (polled on a SimClock), nodes 2 and 3 plain. */
function threeNodes(path: string) {
  const net = new InProcessNetwork();
  const clock = new SimClock();
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', sink: (line) => lines.push(line) });
  const faulty = new FaultInjectingTransport(net.connect(1), {
    path,
    clock,
    prng: createPrng(7),
    logger,
  });
  const [n2, n3] = [net.connect(2), net.connect(3)];
  const got = new Map<NodeId, number[]>([
    [1, []],
    [2, []],
    [3, []],
  ]);
  const record = (t: Transport) => t.onMessage((m: RaftMessage) => got.get(t.id)?.push(m.from));
  record(faulty);
  record(n2);
  record(n3);
  const unreachable: NodeId[] = [];
  faulty.onUnreachable((peer) => unreachable.push(peer));
  /** Every node sends one heartbeat to each other node, then deliveries settle. */
  const exchange = async () => {
    for (const g of got.values()) g.length = 0;
    faulty.send([heartbeat(1, 2, 1), heartbeat(1, 3, 1)]);
    n2.send([heartbeat(2, 1, 1), heartbeat(2, 3, 1)]);
    n3.send([heartbeat(3, 1, 1), heartbeat(3, 2, 1)]);
    await settle();
    return Object.fromEntries([...got].map(([id, from]) => [id, [...from].sort()]));
  };
  return { faulty, clock, lines, unreachable, exchange };
}

describe('parseFaults', () => {
  test('reads blocked, one-way lists and a drop rate; every field is optional', () => {
    // Proves the file format: `blocked` cuts both ways, blockedFrom/blockedTo one way each.
    const faults = parseFaults('{"blocked":[2],"blockedFrom":[3],"blockedTo":[4],"dropRate":0.25}');
    expect(faults).toEqual({
      inbound: new Set([2, 3]),
      outbound: new Set([2, 4]),
      dropRate: 0.25,
    });
    expect(parseFaults('{}')).toEqual({ inbound: new Set(), outbound: new Set(), dropRate: 0 });
  });

  test('malformed text is an error value with a stable code, never a throw', () => {
    // Proves bad input (not JSON, unknown field, bad id, rate out of range, too many ids) is refused as a value.
    const tooMany = JSON.stringify({
      blocked: Array.from({ length: limits.testFaultsPeersMax + 1 }, (_, i) => i + 1),
    });
    for (const text of [
      '{not json',
      '{"blokced":[2]}',
      '{"blocked":[0]}',
      '{"blocked":["2"]}',
      '{"dropRate":1.5}',
      '[2,3]',
      tooMany,
    ]) {
      const result = parseFaults(text);
      expect(result).toBeInstanceOf(BerthError);
      expect((result as BerthError).code).toBe('bad_faults_file');
    }
  });
});

describe('FaultInjectingTransport', () => {
  test('no file means no faults: every message passes both ways', async () => {
    // Proves the wrapper is transparent while the faults file does not exist.
    const { exchange, faulty } = threeNodes(join(tempDir(), 'faults.json'));
    expect(await exchange()).toEqual({ 1: [2, 3], 2: [1, 3], 3: [1, 2] });
    expect(faulty.stats()).toEqual({
      blockedOutbound: 0,
      blockedInbound: 0,
      lostOutbound: 0,
      lostInbound: 0,
    });
  });

  test('blocked peers are cut both ways, reported unreachable, and healed by the next poll', async () => {
    // Proves a symmetric partition from one side's file: sends and receipts are both dropped.
    const path = join(tempDir(), 'faults.json');
    const { exchange, faulty, clock, unreachable } = threeNodes(path);
    writeFileSync(path, '{"blocked":[2]}');
    // Not yet: the file is read on the poll, not on every message.
    expect(await exchange()).toEqual({ 1: [2, 3], 2: [1, 3], 3: [1, 2] });
    clock.advance(limits.testFaultsPollMs);
    expect(await exchange()).toEqual({ 1: [3], 2: [3], 3: [1, 2] });
    expect(unreachable).toEqual([2]);
    expect(faulty.stats()).toMatchObject({ blockedOutbound: 1, blockedInbound: 1 });
    writeFileSync(path, '{}');
    clock.advance(limits.testFaultsPollMs);
    expect(await exchange()).toEqual({ 1: [2, 3], 2: [1, 3], 3: [1, 2] });
  });

  test('blockedFrom and blockedTo cut one direction only', async () => {
    // Proves the one-way cuts: blockedFrom drops only receipts, blockedTo only sends.
    const path = join(tempDir(), 'faults.json');
    const { exchange, faulty, unreachable } = threeNodes(path);
    writeFileSync(path, '{"blockedFrom":[2],"blockedTo":[3]}');
    faulty.reload();
    // Node 1 still reaches 2 and still hears 3; it hears nothing from 2 and reaches nothing at 3.
    expect(await exchange()).toEqual({ 1: [3], 2: [1, 3], 3: [2] });
    expect(unreachable).toEqual([3]);
  });

  test('dropRate loses about that share of messages, silently, in both directions', async () => {
    // Proves random loss: with rate 0.5 some but not all messages pass, none is reported unreachable.
    const path = join(tempDir(), 'faults.json');
    const net = new InProcessNetwork();
    const lossy = new FaultInjectingTransport(net.connect(1), {
      path,
      clock: new SimClock(),
      prng: createPrng(11),
    });
    const peer = net.connect(2);
    const unreachable: NodeId[] = [];
    lossy.onUnreachable((id) => unreachable.push(id));
    let atPeer = 0;
    let atLossy = 0;
    peer.onMessage(() => atPeer++);
    lossy.onMessage(() => atLossy++);
    writeFileSync(path, '{"dropRate":0.5}');
    lossy.reload();
    const count = 400;
    for (let i = 0; i < count; i++) {
      lossy.send([heartbeat(1, 2, i)]);
      peer.send([heartbeat(2, 1, i)]);
    }
    await settle();
    const stats = lossy.stats();
    expect(atPeer + stats.lostOutbound).toBe(count);
    expect(atLossy + stats.lostInbound).toBe(count);
    for (const passed of [atPeer, atLossy]) {
      expect(passed).toBeGreaterThan(count * 0.3);
      expect(passed).toBeLessThan(count * 0.7);
    }
    expect(unreachable).toEqual([]);
    await lossy.close();
  });

  test('a malformed or oversized file is logged once and means no faults', async () => {
    // Proves a bad file neither crashes nor keeps an old partition, and does not flood the log.
    const path = join(tempDir(), 'faults.json');
    const { exchange, faulty, clock, lines } = threeNodes(path);
    writeFileSync(path, '{"blocked":[2]}');
    faulty.reload();
    expect(faulty.faults().inbound).toEqual(new Set([2]));
    writeFileSync(path, '{"blocked":[2');
    for (let i = 0; i < 5; i++) clock.advance(limits.testFaultsPollMs);
    expect(await exchange()).toEqual({ 1: [2, 3], 2: [1, 3], 3: [1, 2] });
    const warnings = () => lines.filter((l) => l.includes('faults file ignored'));
    expect(warnings()).toHaveLength(1);
    writeFileSync(path, ' '.repeat(limits.testFaultsFileBytesMax + 1));
    clock.advance(limits.testFaultsPollMs);
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]).toContain('testFaultsFileBytesMax');
    expect(faulty.faults().inbound.size).toBe(0);
  });

  test('close stops polling and closes the inner transport', async () => {
    // Proves the wrapper leaves no timer behind and passes close through.
    const path = join(tempDir(), 'faults.json');
    const { faulty, clock, exchange } = threeNodes(path);
    expect(clock.pendingCount()).toBe(1);
    await faulty.close();
    expect(clock.pendingCount()).toBe(0);
    const got = await exchange();
    expect(got[2]).toEqual([3]);
    expect(got[3]).toEqual([2]);
  });
});

describe('withTestFaults', () => {
  test('without the test flag it returns the transport itself (zero cost)', () => {
    // Proves production is untouched: no wrapper, no timer, no file read.
    const inner = new InProcessNetwork().connect(1);
    expect(withTestFaults(inner, { dataDir: tempDir(), env: {} })).toBe(inner);
    expect(withTestFaults(inner, { dataDir: tempDir(), env: { [testFaultsFileEnv]: '' } })).toBe(
      inner,
    );
  });

  test('with the flag, a relative path is read from the data directory', async () => {
    // Proves one flag value gives each node its own file, under its own data directory.
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'faults.json'), '{"blockedTo":[2]}');
    const wrapped = withTestFaults(new InProcessNetwork().connect(1), {
      dataDir,
      env: { [testFaultsFileEnv]: 'faults.json' },
    });
    expect(wrapped).toBeInstanceOf(FaultInjectingTransport);
    expect((wrapped as FaultInjectingTransport).faults().outbound).toEqual(new Set([2]));
    await wrapped.close();
  });
});
