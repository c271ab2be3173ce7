/**
 * A real ACME server for tests: Debian's `pebble` with `pebble-challtestsrv` as its DNS,
 * both on loopback. Every name resolves to 127.0.0.1, so Pebble's HTTP-01 validation
 * lands on whatever the test serves at `httpPort` (Berth's router, or a small server).
 *
 * Pebble's own HTTPS certificate is made per run by a throwaway CA (src/pki); clients
 * trust Pebble's API through `apiCaPem`. Certificates Pebble issues chain to a root it
 * regenerates at every start, read from its management interface (`rootPem()`).
 *
 * `scripts/ci-pebble.sh` installs Pebble. Without it, tests skip with a printed reason
 * on a developer machine; with CI=true a missing Pebble is a failure (`pebbleUnavailable`).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import {
  createClusterCa,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  signCsr,
} from '../../src/pki/index.ts';

export { freePort } from '../../src/core/ports-testing.ts';

import { freePort } from '../../src/core/ports-testing.ts';

/** Where both binaries live; BERTH_PEBBLE_DIR overrides it (to check the skip/fail path). */
const binDir = process.env.BERTH_PEBBLE_DIR ?? '/usr/bin';
export const pebbleBinary = join(binDir, 'pebble');
export const challtestsrvBinary = join(binDir, 'pebble-challtestsrv');

/** Polls while a process starts; startup takes well under a second on a loaded machine. */
const readyPollMs = 50;
/** Longest wait for either process to answer, in ms. */
const readyWaitMsMax = 15_000;
/** Time a stopped process has to exit after SIGTERM before SIGKILL, in ms. */
const stopGraceMs = 2_000;

export interface PebbleOptions {
  /** The port Pebble's HTTP-01 validation connects to on 127.0.0.1 (the router's). */
  httpPort: number;
  /** The port for TLS-ALPN-01 and HTTPS redirects; a free one when absent. */
  tlsPort?: number;
  /** Extra environment for Pebble (e.g. PEBBLE_VA_ALWAYS_INVALID). */
  env?: Record<string, string>;
}

export interface Pebble {
  /** The ACME directory, e.g. https://127.0.0.1:40123/dir. */
  readonly directoryUrl: string;
  /** The CA that signed Pebble's API certificate (trust it to talk to `directoryUrl`). */
  readonly apiCaPem: string;
  /** Pebble's management interface (roots, intermediates), over HTTPS with `apiCaPem`. */
  readonly managementUrl: string;
  /** The DNS server pebble-challtestsrv runs, as host:port. */
  readonly dnsAddress: string;
  /** The root that issued certificates chain to (regenerated at each Pebble start). */
  rootPem(): Promise<string>;
  /** The intermediate Pebble signs leaves with. */
  intermediatePem(): Promise<string>;
  /** Kills both processes and removes the temporary directory; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Why Pebble tests cannot run here, or null when they can. The caller skips on a
 * developer machine and fails in CI (CI=true).
 */
export function pebbleUnavailable(): string | null {
  if (!existsSync(pebbleBinary)) return `${pebbleBinary} is missing (run scripts/ci-pebble.sh)`;
  if (!existsSync(challtestsrvBinary)) {
    return `${challtestsrvBinary} is missing (run scripts/ci-pebble.sh)`;
  }
  return null;
}

/** Starts pebble-challtestsrv and Pebble and waits until Pebble's directory answers. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pebble-'));
  const procs: Subprocess[] = [];
  // A test process that dies without reaching afterAll must not leave Pebble running.
  const killOnExit = () => {
    for (const proc of procs) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    await Promise.all(procs.splice(0).map(stopProcess));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tls = await writeApiCertificate(dir);
    const dnsPort = freePort();
    procs.push(startChalltestsrv(dnsPort, dir));
    await waitForUdpDns(dnsPort, procs[0] as Subprocess);
    const apiPort = freePort();
    const managementPort = freePort();
    const configPath = join(dir, 'pebble-config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${apiPort}`,
          managementListenAddress: `127.0.0.1:${managementPort}`,
          certificate: tls.certPath,
          privateKey: tls.keyPath,
          httpPort: options.httpPort,
          tlsPort: options.tlsPort ?? freePort(),
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    const pebble = Bun.spawn(
      [pebbleBinary, '-config', configPath, '-dnsserver', `127.0.0.1:${dnsPort}`],
      {
        cwd: dir,
        env: {
          ...process.env,
          PEBBLE_VA_NOSLEEP: '1',
          PEBBLE_WFE_NONCEREJECT: '0',
          PEBBLE_AUTHZREUSE: '0',
          ...options.env,
        },
        stdout: Bun.file(join(dir, 'pebble.log')),
        stderr: Bun.file(join(dir, 'pebble.err.log')),
      },
    );
    procs.push(pebble);
    const directoryUrl = `https://127.0.0.1:${apiPort}/dir`;
    const managementUrl = `https://127.0.0.1:${managementPort}`;
    await waitForHttps(directoryUrl, tls.caPem, pebble, join(dir, 'pebble.log'));
    const get = (path: string) => fetchText(`${managementUrl}${path}`, tls.caPem);
    return {
      directoryUrl,
      apiCaPem: tls.caPem,
      managementUrl,
      dnsAddress: `127.0.0.1:${dnsPort}`,
      rootPem: () => get('/roots/0'),
      intermediatePem: () => get('/intermediates/0'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A throwaway CA and a certificate for 127.0.0.1 and localhost, for Pebble's API. */
async function writeApiCertificate(dir: string) {
  const ca = await createClusterCa({ clusterName: 'pebble-test', validityDays: 2 });
  const keys = await generateKeyPair();
  const csrPem = await createCsr('pebble', keys);
  const certPem = await signCsr(ca, csrPem, {
    nodeId: 1,
    role: 'voter',
    validityDays: 2,
    dnsNames: ['localhost'],
  });
  const certPath = join(dir, 'api-cert.pem');
  const keyPath = join(dir, 'api-key.pem');
  writeFileSync(certPath, certPem);
  writeFileSync(keyPath, await exportPrivateKeyPem(keys.privateKey), { mode: 0o600 });
  return { caPem: ca.certPem, certPath, keyPath };
}

function startChalltestsrv(dnsPort: number, dir: string): Subprocess {
  // Only the DNS server: HTTP-01 answers come from the code under test, not from here.
  return Bun.spawn(
    [
      challtestsrvBinary,
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${freePort()}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    {
      cwd: dir,
      stdout: Bun.file(join(dir, 'challtestsrv.log')),
      stderr: Bun.file(join(dir, 'challtestsrv.err.log')),
    },
  );
}

/** Waits until a DNS query over UDP gets any answer from the challenge test server. */
async function waitForUdpDns(port: number, proc: Subprocess): Promise<void> {
  const query = dnsQuery('probe.test');
  const deadlineMs = performance.now() + readyWaitMsMax;
  let answered = false;
  const socket = await Bun.udpSocket({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      data() {
        answered = true;
      },
      // Until the server binds, each probe comes back as ICMP "port unreachable".
      error() {},
    },
  });
  try {
    while (!answered) {
      if (proc.exitCode !== null) throw new Error('pebble-challtestsrv exited at start');
      if (performance.now() > deadlineMs) {
        throw new Error(`pebble-challtestsrv DNS did not answer within ${readyWaitMsMax} ms`);
      }
      socket.send(query, port, '127.0.0.1');
      await Bun.sleep(readyPollMs);
    }
  } finally {
    socket.close();
  }
}

/** A minimal DNS A query (RFC 1035 §4.1) for `name`. */
function dnsQuery(name: string): Uint8Array {
  const labels = name.split('.').flatMap((label) => [label.length, ...Buffer.from(label)]);
  return new Uint8Array([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

async function waitForHttps(
  url: string,
  caPem: string,
  proc: Subprocess,
  logPath: string,
): Promise<void> {
  const deadlineMs = performance.now() + readyWaitMsMax;
  for (;;) {
    if (proc.exitCode !== null) {
      const log = await Bun.file(logPath)
        .text()
        .catch(() => '');
      throw new Error(`pebble exited at start (code ${proc.exitCode}): ${log.slice(-2_000)}`);
    }
    try {
      await fetchText(url, caPem);
      return;
    } catch (error) {
      if (performance.now() > deadlineMs) {
        throw new Error(`pebble did not answer at ${url} within ${readyWaitMsMax} ms: ${error}`);
      }
    }
    await Bun.sleep(readyPollMs);
  }
}

async function fetchText(url: string, caPem: string): Promise<string> {
  const response = await fetch(url, {
    tls: { ca: caPem },
    signal: AbortSignal.timeout(readyWaitMsMax),
  });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return response.text();
}

async function stopProcess(proc: Subprocess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  const exited = await Promise.race([
    proc.exited.then(() => true),
    Bun.sleep(stopGraceMs).then(() => false),
  ]);
  if (!exited) {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}
