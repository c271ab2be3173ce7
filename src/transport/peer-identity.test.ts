import { describe, expect, test } from 'bun:test';
import { type IdentifyInput, identifyPeer } from './peer-identity.ts';

const base: IdentifyInput = {
  authorized: true,
  certificate: { subject: { CN: 'node-1.prod', C: '', ST: '', L: '', O: 'berth', OU: 'voter' } },
  clusterName: 'prod',
  selfId: 2,
  direction: 'inbound',
  expectedPeer: undefined,
};

function cn(commonName: unknown): IdentifyInput['certificate'] {
  return { subject: { CN: commonName } as never };
}

describe('identifyPeer', () => {
  test('accepts a trusted lower-id node inbound and the dialled node outbound', () => {
    // Proves the happy paths return the id named in the certificate.
    expect(identifyPeer(base)).toEqual({ ok: true, nodeId: 1 });
    expect(
      identifyPeer({
        ...base,
        certificate: cn('node-3.prod'),
        direction: 'outbound',
        expectedPeer: 3,
      }),
    ).toEqual({
      ok: true,
      nodeId: 3,
    });
  });

  test('refuses untrusted, unnamed, foreign-cluster, unexpected and wrong-direction peers', () => {
    // Proves every refusal reason, each from the certificate alone.
    expect(identifyPeer({ ...base, authorized: false })).toEqual({
      ok: false,
      reason: 'untrusted_certificate',
    });
    expect(identifyPeer({ ...base, certificate: {} })).toEqual({
      ok: false,
      reason: 'bad_peer_name',
    });
    expect(identifyPeer({ ...base, certificate: null })).toEqual({
      ok: false,
      reason: 'bad_peer_name',
    });
    expect(identifyPeer({ ...base, certificate: cn(['node-1.prod', 'node-4.prod']) })).toEqual({
      ok: false,
      reason: 'bad_peer_name',
    });
    expect(identifyPeer({ ...base, certificate: cn('berth-ca.prod') })).toEqual({
      ok: false,
      reason: 'bad_peer_name',
    });
    expect(identifyPeer({ ...base, certificate: cn('node-1.staging') })).toEqual({
      ok: false,
      reason: 'wrong_cluster',
    });
    expect(identifyPeer({ ...base, direction: 'outbound', expectedPeer: 3 })).toEqual({
      ok: false,
      reason: 'unexpected_peer',
    });
    expect(identifyPeer({ ...base, certificate: cn('node-2.prod') })).toEqual({
      ok: false,
      reason: 'wrong_dial_direction',
    });
    expect(identifyPeer({ ...base, certificate: cn('node-5.prod') })).toEqual({
      ok: false,
      reason: 'wrong_dial_direction',
    });
  });
});
