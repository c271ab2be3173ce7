import { afterEach, describe, expect, test } from 'bun:test';
import type { Server, TLSOptions } from 'bun';
import { BerthError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { buildSniSet, emptySniSet } from './tls-certificates.ts';
import { TlsListener } from './tls-listener.ts';
import { fallbackCertificate, fallbackCommonName } from './tls-self-signed.ts';
import { heldResponse, peerCertificate, testCertificate } from './tls-testing.ts';

const a = await testCertificate(['a.test'], '0a');
const aRenewed = await testCertificate(['a.test'], '0e');
const b = await testCertificate(['b.test'], '0b');
const fallback = await fallbackCertificate();

/** The request handler of the test listener: `/stream` holds its body until `release()`. */
let releaseStream: () => void = () => {};

function open(listen: { hostname: string; port: number }, tls: TLSOptions[]): Server<undefined> {
  return Bun.serve({
    ...listen,
    tls,
    reusePort: true,
    fetch(req) {
      if (new URL(req.url).pathname !== '/stream') return new Response('ok');
      const held = heldResponse('first;', 'last');
      releaseStream = held.release;
      return held.response;
    },
  });
}

const listeners: TlsListener<undefined>[] = [];
function listener(options: { port?: number; withFallback?: boolean } = {}) {
  const created = new TlsListener<undefined>({
    hostname: '127.0.0.1',
    port: options.port ?? 0,
    fallback: options.withFallback === false ? undefined : fallback,
    open,
    logger: silentLogger,
  });
  listeners.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.stop(true)));
});

describe('SNI selection', () => {
  test('each host gets its own certificate; unknown or missing SNI gets the fallback', async () => {
    // Proves the selection by SNI and that no site's certificate leaks to other names.
    const tls = listener();
    expect(tls.serve(buildSniSet([a, b]))).toBe('started');
    const port = tls.port!;
    expect((await peerCertificate(port, 'a.test')).serial).toBe('0A');
    expect((await peerCertificate(port, 'B.TEST')).serial).toBe('0B');
    expect((await peerCertificate(port, 'c.test')).commonName).toBe(fallbackCommonName);
    expect((await peerCertificate(port)).commonName).toBe(fallbackCommonName);
  });

  test('the listener binds with the first certificate and closes with the last', async () => {
    // Proves lazy binding: no port before any certificate (Bun would serve plain HTTP with
    // an empty list), serving once one arrives, closed again when none is left.
    const tls = listener({ withFallback: false });
    expect(tls.port).toBeUndefined();
    expect(tls.serve(emptySniSet())).toBe('unchanged');
    expect(tls.serve(buildSniSet([a]))).toBe('started');
    const port = tls.port!;
    expect((await peerCertificate(port, 'a.test')).serial).toBe('0A');
    // Without a fallback Bun presents the first entry for unknown names.
    expect((await peerCertificate(port, 'zzz.test')).serial).toBe('0A');
    expect(tls.serve(buildSniSet([a]))).toBe('unchanged');
    expect(tls.serve(emptySniSet())).toBe('closed');
    expect(tls.port).toBeUndefined();
    expect(tls.served.entries).toEqual([]);
    await expect(peerCertificate(port, 'a.test')).rejects.toThrow();
  });
});

describe('hot swap', () => {
  test('a response streaming across a certificate change completes; new connections get the new one', async () => {
    // Proves renewal does not drop connections: the old listener drains, the new one serves.
    const tls = listener();
    tls.serve(buildSniSet([a]));
    const port = tls.port!;
    const response = await fetch(`https://127.0.0.1:${port}/stream`, {
      tls: { rejectUnauthorized: false, serverName: 'a.test' },
    } as RequestInit);
    const reader = response.body!.getReader();
    const firstChunk = await reader.read();
    expect(new TextDecoder().decode(firstChunk.value)).toBe('first;');

    expect(tls.serve(buildSniSet([aRenewed, b]))).toBe('replaced');
    expect(tls.port).toBe(port);
    expect(tls.drainingCount).toBe(1);
    expect((await peerCertificate(port, 'a.test')).serial).toBe('0E');
    expect((await peerCertificate(port, 'b.test')).serial).toBe('0B');

    releaseStream();
    let rest = '';
    for (let reads = 0; reads < 10; reads++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toBe('last');
    for (let waits = 0; waits < 100 && tls.drainingCount > 0; waits++) await Bun.sleep(10);
    expect(tls.drainingCount).toBe(0);
  });

  test('past the draining limit the oldest replaced listener is cut', () => {
    // Proves the bound on old listeners kept alive by long streams.
    const tls = new TlsListener<undefined>({
      hostname: '127.0.0.1',
      port: 0,
      fallback,
      open,
      logger: silentLogger,
      drainingMax: 1,
    });
    listeners.push(tls);
    tls.serve(buildSniSet([a]));
    tls.serve(buildSniSet([aRenewed]));
    tls.serve(buildSniSet([b]));
    expect(tls.drainingCount).toBe(1);
  });
});

test('a port another listener holds fails the first bind with listen_failed, reusePort or not', async () => {
  // Proves the probe: reusePort must not let a second agent share the HTTPS port silently.
  const plain = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('x') });
  try {
    expect(() => listener({ port: plain.port }).serve(buildSniSet([a]))).toThrow(BerthError);
  } finally {
    await plain.stop(true);
  }
  const first = listener();
  first.serve(buildSniSet([a]));
  const second = listener({ port: first.port });
  let code = '';
  try {
    second.serve(buildSniSet([b]));
  } catch (error) {
    code = (error as BerthError).code;
  }
  expect(code).toBe('listen_failed');
  expect(second.port).toBeUndefined();
  expect((await peerCertificate(first.port!, 'b.test')).commonName).toBe(fallbackCommonName);
});
