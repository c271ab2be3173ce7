/**
 * Test helpers for the router's TLS side: certificates with a chosen serial, and the
 * certificate a fresh TLS connection with a given SNI name is shown. Loopback only.
 */
import { connect } from 'node:tls';
import type { TlsCertificate } from './tls-certificates.ts';
import { selfSignedCertificate } from './tls-self-signed.ts';

/** A self-signed certificate for `hosts` whose serial is `serialHex` (upper case when read back). */
export async function testCertificate(
  hosts: readonly string[],
  serialHex: string,
): Promise<TlsCertificate> {
  const pair = await selfSignedCertificate({ hosts, serialHex });
  return { hosts, ...pair };
}

/** What a new connection was shown: the serial (upper-case hex) and the subject CN. */
export interface PeerCertificate {
  serial: string;
  commonName: string;
}

/**
 * Opens a new TLS connection to 127.0.0.1:`port` with SNI `serverName` (none when
 * undefined), reads the certificate presented, and closes. Rejects on a handshake error.
 */
export function peerCertificate(port: number, serverName?: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: serverName,
      rejectUnauthorized: false,
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const cn = cert.subject?.CN;
      resolve({
        serial: cert.serialNumber,
        commonName: Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''),
      });
      socket.end();
    });
    socket.once('error', reject);
  });
}

/**
 * A response whose body sends `first`, then holds until `release()` is called, then sends
 * `last` and ends: a request that stays in flight across whatever the test does meanwhile.
 */
export function heldResponse(
  first: string,
  last: string,
  headers: Record<string, string> = {},
): { response: Response; release: () => void } {
  const encoder = new TextEncoder();
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let sent = 0;
  const response = new Response(
    new ReadableStream({
      async pull(controller) {
        if (sent++ === 0) return controller.enqueue(encoder.encode(first));
        await held;
        controller.enqueue(encoder.encode(last));
        controller.close();
      },
    }),
    { headers },
  );
  return { response, release };
}
