/**
 * Sealing and opening secrets (DESIGN.md §7): AES-256-GCM under a cluster data key, with
 * a fresh 96-bit random nonce per seal and the secret's name as additional authenticated
 * data, so a ciphertext moved to another name fails to open instead of leaking under the
 * wrong name. Only the sealed form enters the log and the state database.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { BerthError } from '../core/errors.ts';
import { type DataKey, findKey, type Keyring } from './keyring.ts';

/** GCM nonce length, in bytes (the size GCM is specified for). */
export const nonceBytes = 12;
/** GCM authentication tag length, in bytes; appended to the ciphertext. */
export const authTagBytes = 16;

/** A sealed secret, as carried by the `secret_set` command. */
export interface SealedSecret {
  /** base64 of ciphertext followed by the 16-byte tag. */
  ciphertext: string;
  /** base64 of the 12-byte nonce. */
  nonce: string;
  keyId: string;
}

/** Seals `plaintext` (UTF-8 text or bytes) for the secret called `name`. */
export function sealSecret(
  key: DataKey,
  name: string,
  plaintext: string | Uint8Array,
): SealedSecret {
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce, { authTagLength: authTagBytes });
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const body = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext: body.toString('base64'), nonce: nonce.toString('base64'), keyId: key.id };
}

/**
 * Opens a sealed secret. Throws `secret_key_unknown` when the keyring lacks its key and
 * `secret_open_failed` when it was tampered with, sealed under another name or is garbage.
 * Neither error carries any part of the ciphertext or plaintext.
 */
export function openSecret(ring: Keyring, name: string, sealed: SealedSecret): Uint8Array {
  const key = findKey(ring, sealed.keyId);
  if (!key) {
    throw new BerthError('secret_key_unknown', `secret ${name} is sealed with an unknown key`, {
      name,
      keyId: sealed.keyId,
    });
  }
  const nonce = Buffer.from(sealed.nonce, 'base64');
  const body = Buffer.from(sealed.ciphertext, 'base64');
  if (nonce.length !== nonceBytes || body.length < authTagBytes) {
    throw new BerthError('secret_open_failed', `secret ${name} is malformed`, { name });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, {
      authTagLength: authTagBytes,
    });
    decipher.setAAD(Buffer.from(name, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - authTagBytes));
    const head = decipher.update(body.subarray(0, body.length - authTagBytes));
    return new Uint8Array(Buffer.concat([head, decipher.final()]));
  } catch {
    throw new BerthError('secret_open_failed', `secret ${name} failed authentication`, { name });
  }
}

/** openSecret for text secrets. */
export function openSecretText(ring: Keyring, name: string, sealed: SealedSecret): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(openSecret(ring, name, sealed));
}

export { parseDotenv } from './dotenv.ts';
