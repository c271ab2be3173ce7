/**
 * One host's ACME order against a real Pebble on loopback (issue 8): issuance, resumption
 * by a second flow after an interruption, and the typed errors an operator sees. Pebble
 * is installed by scripts/ci-pebble.sh; without it these tests skip on a developer
 * machine and fail with CI=true.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as acme from 'acme-client';
import {
  type AcmeFlowCallbacks,
  type AcmeFlowOptions,
  generateAcmeKeyPem,
  resolveDirectoryUrl,
  runAcmeFlow,
} from '../../src/certificates/acme-flow.ts';
import { installFetchTransport } from '../../src/certificates/acme-transport.ts';
import { BerthError } from '../../src/core/errors.ts';
import { createClusterCa } from '../../src/pki/index.ts';
import {
  accountOrderUrls,
  chainVerifies,
  pemBlocks,
  startRateLimitedAcme,
} from './acme-helpers.ts';
import { type ChallengeServer, startChallengeServer } from './challenge-server.ts';
import { freePort, type Pebble, pebbleUnavailable, startPebble } from './pebble.ts';

const unavailable = pebbleUnavailable();
// Real processes on a loaded CI machine: Pebble's start (bounded at 15 s) and a few
// issuances must fit. A healthy run takes well under a second per test.
setDefaultTimeout(30_000);

/** Commits as a test sees them: what each callback was given, in order. */
interface Recorded {
  orders: { orderUrl: string; keyPem: string }[];
  challenges: string[];
  issued: { certPem: string; keyPem: string }[];
}

async function rejection(promise: Promise<unknown>): Promise<BerthError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BerthError) return error;
    throw error;
  }
  throw new Error('expected the flow to fail');
}

if (unavailable && process.env.CI === 'true') {
  test('Pebble is available in CI', () => {
    // Proves CI never silently skips the ACME tests.
    throw new Error(unavailable);
  });
} else if (unavailable) {
  console.log(`skipping ACME flow tests: ${unavailable}`);
  // Skipped only on a developer machine without Pebble (CI=true fails above instead); the
  // reason is printed and named in the test title.
  test.skip(`ACME flow tests (${unavailable})`, () => {});
} else {
  let pebble: Pebble;
  let challenges: ChallengeServer;
  const answers = new Map<string, string>();

  beforeAll(async () => {
    challenges = startChallengeServer((token) => answers.get(token));
    pebble = await startPebble({ httpPort: challenges.port });
  });

  afterAll(async () => {
    challenges?.stop();
    await pebble?.stop();
  });

  /** Callbacks that record and publish answers; `leaderUntil` flips leadership off. */
  function recorder(leaderWhile: (r: Recorded) => boolean = () => true) {
    const recorded: Recorded = { orders: [], challenges: [], issued: [] };
    const callbacks: AcmeFlowCallbacks = {
      orderStarted: async (orderUrl, keyPem) => {
        recorded.orders.push({ orderUrl, keyPem });
      },
      challengeReady: async (token, keyAuthorization) => {
        answers.set(token, keyAuthorization);
        recorded.challenges.push(token);
      },
      issued: async (certPem, keyPem) => {
        recorded.issued.push({ certPem, keyPem });
      },
      isLeader: () => leaderWhile(recorded),
    };
    return { recorded, callbacks };
  }

  function flow(host: string, over: Partial<AcmeFlowOptions>): AcmeFlowOptions {
    return {
      host,
      directoryUrl: pebble.directoryUrl,
      accountKeyPem: generateAcmeKeyPem(),
      caPem: pebble.apiCaPem,
      timing: { challengeSettleMs: 0, pollBaseMs: 20, pollCapMs: 200 },
      callbacks: recorder().callbacks,
      ...over,
    };
  }

  /** Places and validates an order with plain acme-client, as a leader that died at `ready`. */
  async function orderValidatedElsewhere(accountKeyPem: string, host: string): Promise<string> {
    const client = new acme.Client({
      directoryUrl: pebble.directoryUrl,
      accountKey: accountKeyPem,
    });
    installFetchTransport(client, { directoryUrl: pebble.directoryUrl, caPem: pebble.apiCaPem });
    await client.createAccount({ termsOfServiceAgreed: true });
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
    const [authz] = await client.getAuthorizations(order);
    const challenge = authz?.challenges.find((c) => c.type === 'http-01');
    if (!challenge) throw new Error('Pebble offered no HTTP-01 challenge');
    answers.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
    await client.completeChallenge(challenge);
    for (let i = 0; i < 100; i++) {
      if ((await client.getOrder(order)).status === 'ready') return order.url;
      await Bun.sleep(20);
    }
    throw new Error('the order did not become ready');
  }

  describe('issuance', () => {
    test('a certificate is issued for the host, chains to Pebble root, and matches its key', async () => {
      // Proves the whole HTTP-01 flow against a real ACME server, and what is committed.
      const { recorded, callbacks } = recorder();
      const options = flow('www.example.com', { callbacks });
      const result = await runAcmeFlow(options);
      expect(recorded.orders).toHaveLength(1);
      expect(recorded.challenges).toHaveLength(1);
      expect(challenges.requested).toContain(recorded.challenges[0] as string);
      expect(recorded.issued).toEqual([{ certPem: result.certPem, keyPem: result.keyPem }]);
      expect(recorded.orders[0]?.keyPem).toBe(result.keyPem);
      expect(chainVerifies(result.certPem, await pebble.rootPem())).toBe(true);
      const stranger = await createClusterCa({ clusterName: 'stranger', validityDays: 1 });
      expect(chainVerifies(result.certPem, stranger.certPem)).toBe(false);
      const leaf = new X509Certificate(pemBlocks(result.certPem)[0] as string);
      expect(leaf.checkHost('www.example.com')).toBe('www.example.com');
      expect(leaf.checkHost('other.example.com')).toBeUndefined();
      expect(leaf.checkPrivateKey(createPrivateKey(result.keyPem))).toBe(true);
      expect(await accountOrderUrls(pebble, options.accountKeyPem)).toEqual([result.orderUrl]);
    });
  });

  describe('resumption', () => {
    for (const stopAfter of ['orderStarted', 'challengeReady'] as const) {
      test(`a flow stopped after ${stopAfter} is finished by a second flow, with one order`, async () => {
        // Proves a new leader resumes the committed order: same URL, same key, no new order.
        const accountKeyPem = generateAcmeKeyPem();
        const first = recorder((r) =>
          stopAfter === 'orderStarted' ? r.orders.length === 0 : r.challenges.length === 0,
        );
        const error = await rejection(
          runAcmeFlow(flow('resume.example.com', { accountKeyPem, callbacks: first.callbacks })),
        );
        expect(error.code).toBe('acme_not_leader');
        const committed = first.recorded.orders[0];
        if (!committed) throw new Error('the first flow committed no order');
        expect(first.recorded.issued).toEqual([]);

        const second = recorder();
        const result = await runAcmeFlow(
          flow('resume.example.com', {
            accountKeyPem,
            callbacks: second.callbacks,
            resume: committed,
          }),
        );
        expect(result.ordersCreated).toBe(0);
        expect(result.orderUrl).toBe(committed.orderUrl);
        expect(second.recorded.orders).toEqual([]);
        expect(second.recorded.issued).toHaveLength(1);
        const leaf = new X509Certificate(pemBlocks(result.certPem)[0] as string);
        expect(leaf.checkPrivateKey(createPrivateKey(committed.keyPem))).toBe(true);
        expect(await accountOrderUrls(pebble, accountKeyPem)).toEqual([committed.orderUrl]);
      });
    }

    test('resuming an order whose challenge is already valid finalizes with the stored key', async () => {
      // Proves resumption at `ready`: validated before the old leader died, not yet finalized.
      const accountKeyPem = generateAcmeKeyPem();
      const keyPem = generateAcmeKeyPem();
      const orderUrl = await orderValidatedElsewhere(accountKeyPem, 'ready.example.com');
      const { recorded, callbacks } = recorder();
      const result = await runAcmeFlow(
        flow('ready.example.com', { accountKeyPem, callbacks, resume: { orderUrl, keyPem } }),
      );
      expect(recorded.challenges).toEqual([]);
      const leaf = new X509Certificate(pemBlocks(result.certPem)[0] as string);
      expect(leaf.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
      expect(await accountOrderUrls(pebble, accountKeyPem)).toEqual([orderUrl]);
    });

    test('resuming a finished order only downloads the certificate again', async () => {
      // Proves resumption at `valid`: a leader that died before committing the certificate.
      const accountKeyPem = generateAcmeKeyPem();
      const done = await runAcmeFlow(flow('done.example.com', { accountKeyPem }));
      const again = await runAcmeFlow(
        flow('done.example.com', {
          accountKeyPem,
          resume: { orderUrl: done.orderUrl, keyPem: done.keyPem },
        }),
      );
      expect(again.certPem).toBe(done.certPem);
      expect(await accountOrderUrls(pebble, accountKeyPem)).toHaveLength(1);
    });

    test('resuming an order the server does not know is acme_order_invalid', async () => {
      // Proves a lost order is reported so the caller records a failure and starts fresh.
      const orderUrl = pebble.directoryUrl.replace(/\/dir$/, '/my-order/no-such-order');
      const error = await rejection(
        runAcmeFlow(
          flow('gone.example.com', { resume: { orderUrl, keyPem: generateAcmeKeyPem() } }),
        ),
      );
      expect(error.code).toBe('acme_order_invalid');
      expect(error.message).toContain('gone.example.com');
    });
  });

  describe('errors', () => {
    test('a challenge nobody answers makes the order invalid, with the reason', async () => {
      // Proves validation failures surface as acme_order_invalid with Pebble's detail.
      const { recorded, callbacks } = recorder();
      callbacks.challengeReady = async (token) => {
        recorded.challenges.push(token);
      };
      const error = await rejection(runAcmeFlow(flow('unanswered.example.com', { callbacks })));
      expect(error.code).toBe('acme_order_invalid');
      expect(error.message).toMatch(/^ACME order for unanswered\.example\.com failed: .+/);
      expect(error.message).not.toContain('\n');
      expect(recorded.issued).toEqual([]);
    });

    test('a host name the server refuses is acme_failed with its words', async () => {
      // Proves an invalid identifier fails fast with a one-line operator message.
      const error = await rejection(runAcmeFlow(flow('bad_name.example.com', {})));
      expect(error.code).toBe('acme_failed');
      expect(error.message).toContain('bad_name.example.com');
      expect(error.message).toContain('HTTP 400');
    });

    test('an ACME server nobody listens on is acme_unreachable', async () => {
      // Proves a down server is a typed, retryable error, without acme-client's retries.
      const directoryUrl = `https://127.0.0.1:${freePort()}/dir`;
      const error = await rejection(runAcmeFlow(flow('a.example.com', { directoryUrl })));
      expect(error.code).toBe('acme_unreachable');
      expect(error.message).toContain('127.0.0.1');
    });

    test('a server whose certificate is not trusted is acme_unreachable', async () => {
      // Proves caPem is what makes Pebble trusted: without it the TLS handshake fails.
      const error = await rejection(runAcmeFlow(flow('a.example.com', { caPem: undefined })));
      expect(error.code).toBe('acme_unreachable');
    });

    test('a garbage directory is refused with a clear message', async () => {
      // Proves both a non-URL and a URL that is not an ACME directory are named as such.
      expect(() => resolveDirectoryUrl('lets encrypt please')).toThrow(
        /not production, staging or an https URL/,
      );
      expect(resolveDirectoryUrl('staging')).toContain('acme-staging-v02.api.letsencrypt.org');
      expect(resolveDirectoryUrl('production')).toContain('acme-v02.api.letsencrypt.org');
      const directoryUrl = `http://127.0.0.1:${challenges.port}/not-a-directory`;
      const error = await rejection(runAcmeFlow(flow('a.example.com', { directoryUrl })));
      expect(error.code).toBe('acme_directory_invalid');
      expect(error.message).toContain('is not an ACME directory (HTTP 404)');
    });

    test('a rate limit is acme_rate_limited with the Retry-After the server sent', async () => {
      // Proves rate limits are recognised by status and type, and carry retryAfterMs.
      const server = startRateLimitedAcme(120);
      try {
        const error = await rejection(
          runAcmeFlow(
            flow('a.example.com', { directoryUrl: server.directoryUrl, caPem: undefined }),
          ),
        );
        expect(error.code).toBe('acme_rate_limited');
        expect(error.details?.retryAfterMs).toBe(120_000);
        expect(error.message).toContain('retry after 120 s');
      } finally {
        server.stop();
      }
    });

    test('an aborted flow stops with acme_aborted and commits nothing more', async () => {
      // Proves the host can stop a flow in flight (leadership lost) through its signal.
      const controller = new AbortController();
      const { recorded, callbacks } = recorder();
      callbacks.orderStarted = async (orderUrl, keyPem) => {
        recorded.orders.push({ orderUrl, keyPem });
        controller.abort();
      };
      const error = await rejection(
        runAcmeFlow(flow('abort.example.com', { callbacks, signal: controller.signal })),
      );
      expect(error.code).toBe('acme_aborted');
      expect(recorded.challenges).toEqual([]);
      expect(recorded.issued).toEqual([]);
    });
  });
}
