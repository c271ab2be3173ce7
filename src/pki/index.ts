/** The cluster PKI: CA creation, CSRs, signing, verification and rotation checks. */
export { type ClusterCa, type CreateCaOptions, createClusterCa } from './ca.ts';
export { createCsr } from './csr.ts';
export {
  type CertificateInfo,
  certificateInfo,
  needsRotation,
  type VerifyFailureCode,
  type VerifyResult,
  verifyChain,
} from './inspect.ts';
export { exportPrivateKeyPem, generateKeyPair } from './keys.ts';
export { type NodeRole, nodeCommonName, parseNodeCommonName } from './names.ts';
export { type SignCsrOptions, signCsr } from './sign.ts';
