/**
 * Key handling for the cluster PKI: ECDSA P-256 through WebCrypto. P-256 is what every
 * TLS stack accepts for both server and client certificates, and its signatures are
 * cheap enough that reconnect storms in a 500-node cluster do not matter.
 */
import { PemConverter } from '@peculiar/x509';
import { BerthError } from '../core/errors.ts';

/** The one key algorithm Berth issues and accepts. */
export const ecdsaP256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** The signature algorithm for CSRs and certificates. */
export const ecdsaSha256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A fresh extractable P-256 key pair (extractable so the private key can be saved as PEM). */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ecdsaP256, true, ['sign', 'verify']);
}

/** The private key as PKCS#8 PEM, the form Bun's TLS options take. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return PemConverter.encode(der, 'PRIVATE KEY');
}

/** Imports a PKCS#8 PEM P-256 private key for signing; `bad_private_key` when it is not one. */
export async function importSigningKeyPem(pem: string): Promise<CryptoKey> {
  try {
    const der = PemConverter.decodeFirst(pem);
    return await crypto.subtle.importKey('pkcs8', der, ecdsaP256, false, ['sign']);
  } catch (cause) {
    throw new BerthError('bad_private_key', 'not a PKCS#8 PEM ECDSA P-256 private key', {
      cause: String(cause),
    });
  }
}
