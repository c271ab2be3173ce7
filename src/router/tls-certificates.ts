/**
 * The certificates one HTTPS listener serves, checked and indexed by host name (SNI).
 *
 * Bun.serve takes an array of `{ serverName, cert, key }`; a single bad pair (garbage PEM,
 * a key that does not match) makes the whole listener fail to start, so every pair is
 * checked here first and a bad one is reported and left out instead of taking every other
 * site down. A host a certificate does not actually cover is left out too: serving it
 * would only trade a working HTTP site for a browser warning once HTTP redirects.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { limits } from '../core/limits.ts';

/** A certificate chain and its key, served for `hosts` (exact names or `*.example.com`). */
export interface TlsCertificate {
  hosts: readonly string[];
  /** The leaf first, then the chain, PEM. */
  certPem: string;
  /** The private key, PEM. */
  keyPem: string;
}

/** Why a certificate or host was left out; the rest are still served. */
export interface TlsCertificateProblem {
  code: 'bad_certificate' | 'bad_host' | 'host_not_covered' | 'duplicate_host' | 'hosts_dropped';
  hosts: readonly string[];
  detail: string;
}

/** One SNI entry as Bun.serve takes it. */
export interface SniEntry {
  serverName: string;
  cert: string;
  key: string;
}

/** The checked set: what the listener serves and what the redirect rule may rely on. */
export interface SniSet {
  /** Sorted by server name, so every node presents the same default. */
  entries: readonly SniEntry[];
  /** Exact host names served, lower case. */
  exact: ReadonlySet<string>;
  /** Wildcard suffixes served: `.example.com` for `*.example.com`. */
  wildcard: ReadonlySet<string>;
  /**
   * `host=sha256(chain)` pairs, sorted: two sets with the same signature serve the same
   * certificates, so the listener need not be replaced.
   */
  signature: string;
  problems: readonly TlsCertificateProblem[];
}

const hostPattern =
  /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A set serving nothing. */
export function emptySniSet(): SniSet {
  return { entries: [], exact: new Set(), wildcard: new Set(), signature: '', problems: [] };
}

/**
 * Checks `certs` and indexes their hosts. A host named twice keeps its first certificate
 * (the caller orders them: custom certificates before ACME ones).
 */
export function buildSniSet(
  certs: readonly TlsCertificate[],
  hostsMax: number = limits.routerTlsHostsMax,
): SniSet {
  const problems: TlsCertificateProblem[] = [];
  const byHost = new Map<string, { entry: SniEntry; fingerprint: string }>();
  for (const cert of certs) {
    const checked = checkCertificate(cert);
    if ('problem' in checked) {
      problems.push(checked.problem);
      continue;
    }
    for (const host of checked.hosts) {
      if (byHost.has(host)) {
        problems.push({
          code: 'duplicate_host',
          hosts: [host],
          detail: 'served by an earlier certificate',
        });
        continue;
      }
      if (byHost.size >= hostsMax) {
        problems.push({ code: 'hosts_dropped', hosts: [host], detail: `after ${hostsMax} hosts` });
        continue;
      }
      const entry = { serverName: host, cert: cert.certPem, key: cert.keyPem };
      byHost.set(host, { entry, fingerprint: checked.fingerprint });
    }
    problems.push(...checked.problems);
  }
  const hosts = [...byHost.keys()].sort();
  return {
    entries: hosts.map((host) => byHost.get(host)!.entry),
    exact: new Set(hosts.filter((h) => !h.startsWith('*.'))),
    wildcard: new Set(hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1))),
    signature: hosts.map((host) => `${host}=${byHost.get(host)!.fingerprint}`).join('\n'),
    problems,
  };
}

/**
 * True when `set` holds a certificate a client asking for `host` (lower case, no port)
 * gets: an exact name, or a wildcard one label deep, as TLS matches them.
 */
export function sniCovers(set: SniSet, host: string): boolean {
  if (set.exact.has(host)) return true;
  const dot = host.indexOf('.');
  return dot > 0 && set.wildcard.has(host.slice(dot));
}

type Checked =
  | { problem: TlsCertificateProblem }
  | { hosts: string[]; fingerprint: string; problems: TlsCertificateProblem[] };

function checkCertificate(cert: TlsCertificate): Checked {
  const named = cert.hosts.map(normalizeSniHost);
  let leaf: X509Certificate;
  try {
    // The same check the listener would make: a parse of both PEMs and a key match.
    createSecureContext({ cert: cert.certPem, key: cert.keyPem });
    leaf = new X509Certificate(cert.certPem);
  } catch (error) {
    return { problem: { code: 'bad_certificate', hosts: named, detail: (error as Error).message } };
  }
  const hosts: string[] = [];
  const problems: TlsCertificateProblem[] = [];
  for (const host of named) {
    if (!hostPattern.test(host) || host.length > 253) {
      problems.push({ code: 'bad_host', hosts: [host], detail: 'not a DNS name' });
    } else if (!covers(leaf, host)) {
      problems.push({
        code: 'host_not_covered',
        hosts: [host],
        detail: `the certificate names ${leaf.subjectAltName ?? leaf.subject}`,
      });
    } else hosts.push(host);
  }
  return { hosts, fingerprint: chainFingerprint(cert.certPem), problems };
}

/** A wildcard host needs the same wildcard in the certificate, not just one name under it. */
function covers(leaf: X509Certificate, host: string): boolean {
  if (!host.startsWith('*.')) return leaf.checkHost(host) !== undefined;
  const names = (leaf.subjectAltName ?? '').split(',').map((n) => n.trim().toLowerCase());
  return names.includes(`dns:${host}`);
}

/** Lower case, no trailing dot: the form SNI names are compared in. */
export function normalizeSniHost(host: string): string {
  const lower = host.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** SHA-256 of the chain's PEM text (whitespace at the ends ignored), hex. */
export function chainFingerprint(certPem: string): string {
  return createHash('sha256').update(certPem.trim()).digest('hex');
}
