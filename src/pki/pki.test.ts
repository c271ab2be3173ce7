import { describe, expect, test } from 'bun:test';
import { BerthError } from '../core/errors.ts';
import {
  certificateInfo,
  createClusterCa,
  createCsr,
  generateKeyPair,
  needsRotation,
  parseNodeCommonName,
  signCsr,
  verifyChain,
} from './index.ts';

const dayMs = 86_400_000;
const issuedAtMs = Date.UTC(2026, 0, 1);

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BerthError);
  expect((error as BerthError).code).toBe(code);
}

async function issueNode(clusterName = 'prod', nodeId = 3) {
  const ca = await createClusterCa({ clusterName, validityDays: 3650, nowMs: issuedAtMs });
  const keys = await generateKeyPair();
  const csrPem = await createCsr('web-1', keys);
  const certPem = await signCsr(ca, csrPem, {
    nodeId,
    role: 'voter',
    validityDays: 90,
    dnsNames: ['web-1.internal'],
    ipAddresses: ['10.0.0.3'],
    nowMs: issuedAtMs,
  });
  return { ca, keys, csrPem, certPem };
}

describe('cluster PKI', () => {
  test('round trip: a CSR signed by the CA verifies and names the node id, role and SANs', async () => {
    // Proves CA creation, CSR, signing and verification agree, and the identity lands in CN/OU.
    const { ca, certPem } = await issueNode();
    const result = await verifyChain(certPem, ca.certPem, issuedAtMs + dayMs);
    expect(result.ok).toBe(true);
    const info = certificateInfo(certPem);
    expect(info.node).toEqual({ nodeId: 3, clusterName: 'prod', role: 'voter' });
    expect(info.subject).toContain('CN=node-3.prod');
    expect(info.fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(info.notAfterMs).toBe(issuedAtMs + 90 * dayMs);
    // Node's X509Certificate is an independent parser: SANs and EKU as a TLS stack sees them.
    const nodeView = new (await import('node:crypto')).X509Certificate(certPem);
    expect(nodeView.subjectAltName).toContain('DNS:node-3.prod');
    expect(nodeView.subjectAltName).toContain('DNS:web-1.internal');
    expect(nodeView.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(nodeView.subjectAltName).toContain('IP Address:10.0.0.3');
    expect(nodeView.keyUsage).toEqual(
      expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']),
    );
    expect(nodeView.ca).toBe(false);
    expect(new (await import('node:crypto')).X509Certificate(ca.certPem).ca).toBe(true);
    expect(
      nodeView.checkIssued(new (await import('node:crypto')).X509Certificate(ca.certPem)),
    ).toBe(true);
  });

  test('a certificate from another CA fails verification, even one with the same cluster name', async () => {
    // Proves trust comes from the CA key, not from matching names.
    const { certPem } = await issueNode('prod');
    const otherCa = await createClusterCa({
      clusterName: 'prod',
      validityDays: 365,
      nowMs: issuedAtMs,
    });
    const sameName = await verifyChain(certPem, otherCa.certPem, issuedAtMs + dayMs);
    expect(sameName).toMatchObject({ ok: false, code: 'signature_invalid' });
    const otherName = await createClusterCa({
      clusterName: 'staging',
      validityDays: 365,
      nowMs: issuedAtMs,
    });
    const mismatch = await verifyChain(certPem, otherName.certPem, issuedAtMs + dayMs);
    expect(mismatch).toMatchObject({ ok: false, code: 'issuer_mismatch' });
  });

  test('verification enforces the validity window and refuses a leaf used as a CA', async () => {
    // Proves expiry, not-yet-valid and basic constraints are checked.
    const { ca, certPem } = await issueNode();
    expect(await verifyChain(certPem, ca.certPem, issuedAtMs + 91 * dayMs)).toMatchObject({
      ok: false,
      code: 'expired',
    });
    expect(await verifyChain(certPem, ca.certPem, issuedAtMs - dayMs)).toMatchObject({
      ok: false,
      code: 'not_yet_valid',
    });
    expect(await verifyChain(certPem, certPem, issuedAtMs)).toMatchObject({
      ok: false,
      code: 'not_a_ca',
    });
    expect(await verifyChain('garbage', ca.certPem)).toMatchObject({
      ok: false,
      code: 'bad_certificate',
    });
  });

  test('garbage and tampered CSRs are refused with clear codes', async () => {
    // Proves signCsr parses its input and checks the proof of key possession.
    const { ca, csrPem } = await issueNode();
    const options = { nodeId: 4, role: 'worker' as const, validityDays: 30 };
    await expectCode(signCsr(ca, 'not a csr', options), 'bad_csr');
    await expectCode(
      signCsr(
        ca,
        '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----',
        options,
      ),
      'bad_csr',
    );
    await expectCode(signCsr(ca, 'x'.repeat(20_000), options), 'bad_csr');
    // Flip one byte inside the signed body: the self-signature must no longer verify.
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 80] = (der[der.length - 80] as number) ^ 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----`;
    await expectCode(signCsr(ca, tampered, options), 'csr_signature_invalid');
    await expectCode(signCsr(ca, csrPem, { ...options, nodeId: 0 }), 'bad_sign_options');
    await expectCode(
      signCsr(ca, csrPem, { ...options, ipAddresses: ['999.1.1.1'] }),
      'bad_sign_options',
    );
    await expectCode(signCsr({ ...ca, keyPem: 'nope' }, csrPem, options), 'bad_private_key');
    await expectCode(
      createClusterCa({ clusterName: 'Bad Name', validityDays: 1 }),
      'bad_ca_options',
    );
  });

  test('a CSR with a non-P-256 key is refused', async () => {
    // Proves the CA only issues for the one key type the transport expects.
    const { ca } = await issueNode();
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
      'sign',
      'verify',
    ]);
    const { Pkcs10CertificateRequestGenerator } = await import('@peculiar/x509');
    const csr = await Pkcs10CertificateRequestGenerator.create(
      { name: 'CN=x', keys: p384, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } },
      crypto,
    );
    await expectCode(
      signCsr(ca, csr.toString('pem'), { nodeId: 5, role: 'worker', validityDays: 1 }),
      'csr_key_unsupported',
    );
  });

  test('the CSR subject is ignored: identity comes from the signer', async () => {
    // Proves a joining node cannot choose its own node id through its CSR.
    const { ca } = await issueNode();
    const keys = await generateKeyPair();
    const csrPem = await createCsr('node-1.prod', keys);
    const certPem = await signCsr(ca, csrPem, { nodeId: 9, role: 'worker', validityDays: 1 });
    expect(certificateInfo(certPem).node).toEqual({
      nodeId: 9,
      clusterName: 'prod',
      role: 'worker',
    });
  });

  test('rotation is due once less than a third of the lifetime is left', () => {
    // Proves the threshold sits at two thirds of the lifetime, not at expiry.
    const info = { notBeforeMs: 0, notAfterMs: 90 * dayMs };
    expect(needsRotation(info, 0)).toBe(false);
    expect(needsRotation(info, 59 * dayMs)).toBe(false);
    expect(needsRotation(info, 60 * dayMs)).toBe(false);
    expect(needsRotation(info, 60 * dayMs + 1)).toBe(true);
    expect(needsRotation(info, 100 * dayMs)).toBe(true);
  });

  test('node common names parse back and reject look-alikes', () => {
    // Proves the transport's identity parser accepts only `node-<id>.<cluster>`.
    expect(parseNodeCommonName('node-12.prod')).toEqual({ nodeId: 12, clusterName: 'prod' });
    expect(parseNodeCommonName('node-0.prod')).toBeNull();
    expect(parseNodeCommonName('node-01.prod')).toBeNull();
    expect(parseNodeCommonName('node-3.prod.evil')).toBeNull();
    expect(parseNodeCommonName('xnode-3.prod')).toBeNull();
    expect(parseNodeCommonName('berth-ca.prod')).toBeNull();
  });
});
