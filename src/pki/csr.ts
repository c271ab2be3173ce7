/**
 * A node asks for its certificate with a PKCS#10 CSR: it proves it holds the private
 * key without revealing it. The CA ignores the CSR's subject and extensions and writes
 * the identity it decided on (see `signCsr`), so a CSR cannot ask for more than that.
 */
import { Pkcs10CertificateRequestGenerator } from '@peculiar/x509';
import { BerthError } from '../core/errors.ts';
import { ecdsaSha256 } from './keys.ts';

/** A PEM CSR for `nodeName` signed with `keys` (a P-256 pair from `generateKeyPair`). */
export async function createCsr(nodeName: string, keys: CryptoKeyPair): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(nodeName)) {
    throw new BerthError('bad_node_name', 'node names are letters, digits, dots and dashes', {
      nodeName,
    });
  }
  const csr = await Pkcs10CertificateRequestGenerator.create(
    { name: `CN=${nodeName}`, keys, signingAlgorithm: ecdsaSha256 },
    crypto,
  );
  return csr.toString('pem');
}
