import type { RegistryAuth } from '../driver.ts';

/**
 * Builds the `X-Registry-Auth` header for an image pull: the credentials as JSON, encoded
 * base64url (Docker decodes it with URL-safe base64). The value is a secret: it is only
 * ever put on the request to the local Docker socket, never logged.
 */
export function registryAuthHeader(auth: RegistryAuth): string {
  const json = JSON.stringify({
    username: auth.username,
    password: auth.password,
    serveraddress: auth.serverAddress,
  });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** Splits `registry/repo:tag` (or `repo@digest`) into the pull query `fromImage` and `tag`. */
export function splitImageReference(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}
