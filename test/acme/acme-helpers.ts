/**
 * Checks ACME tests make against a real Pebble: what orders an account holds at the
 * server, and whether a chain verifies up to Pebble's root.
 */
import { X509Certificate } from 'node:crypto';
import * as acme from 'acme-client';
import { installFetchTransport } from '../../src/certificates/acme-transport.ts';
import type { Pebble } from './pebble.ts';

/** The order URLs Pebble holds for the account of `accountKeyPem` (server-side count). */
export async function accountOrderUrls(pebble: Pebble, accountKeyPem: string): Promise<string[]> {
  const client = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey: accountKeyPem });
  installFetchTransport(client, { directoryUrl: pebble.directoryUrl, caPem: pebble.apiCaPem });
  const account = (await client.createAccount({ onlyReturnExisting: true })) as { orders?: string };
  if (!account.orders) throw new Error('Pebble returned no orders URL for the account');
  // acme-client has no public call for an account's order list (RFC 8555 §7.1.2.1).
  const api = (client as unknown as { api: ApiRequester }).api;
  const response = await api.apiRequest(account.orders, null, [200]);
  return (response.data as { orders: string[] }).orders;
}

interface ApiRequester {
  apiRequest(url: string, payload: null, codes: number[]): Promise<{ data: unknown }>;
}

/** Splits a PEM bundle into its certificates, leaf first. */
export function pemBlocks(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * True when every certificate of `chainPem` is signed by the next one and the last is
 * signed by `rootPem`: the chain a browser trusting Pebble's root would build.
 */
export function chainVerifies(chainPem: string, rootPem: string): boolean {
  const chain = pemBlocks(chainPem).map((pem) => new X509Certificate(pem));
  const root = new X509Certificate(rootPem);
  if (chain.length === 0) return false;
  const issuers = [...chain.slice(1), root];
  return chain.every((cert, i) => {
    const issuer = issuers[i] as X509Certificate;
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  });
}

/**
 * A tiny ACME look-alike on plain HTTP: a directory, nonces, and 429 with a rateLimited
 * problem and Retry-After for everything else, as Let's Encrypt answers an exhausted limit.
 */
export function startRateLimitedAcme(retryAfterSeconds: number) {
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      const base = `http://127.0.0.1:${url.port}`;
      if (url.pathname === '/dir') {
        return Response.json({
          newNonce: `${base}/nonce`,
          newAccount: `${base}/account`,
          newOrder: `${base}/order`,
        });
      }
      if (url.pathname === '/nonce') {
        return new Response(null, { headers: { 'Replay-Nonce': 'nonce' } });
      }
      return Response.json(
        { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders' },
        { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
      );
    },
  });
  return { directoryUrl: `http://127.0.0.1:${server.port}/dir`, stop: () => server.stop(true) };
}
