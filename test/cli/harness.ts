/**
 * Shared set-up for the CLI tests: a real API server (Bun.serve on 127.0.0.1:0) over a
 * TestClusterService, one token per role, a temporary config dir, and `run()`, which calls
 * the CLI's `main()` in-process and captures what it prints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'bun';
import { createApi } from '../../src/api/app.ts';
import type { EventSocketData } from '../../src/api/event-socket.ts';
import { JobSpecSchema } from '../../src/api/job-spec.ts';
import { serveApi } from '../../src/api/server.ts';
import { mintToken } from '../../src/api/test-harness.ts';
import { TestClusterService } from '../../src/api/test-service.ts';
import { main } from '../../src/cli/main.ts';

export interface RunOptions {
  /** Token passed as --token; `null` passes none. Default: the admin token. */
  token?: string | null;
  /** Address passed as --address; `null` passes none. Default: the test server. */
  address?: string | null;
  /** Standard input, for `secret set NAME -`. */
  stdin?: string;
  /** Interrupt signal (Ctrl-C) for streaming commands. */
  signal?: AbortSignal;
  /** Receives stdout as it is written (streams). */
  onOut?: (text: string) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment variables the CLI reads; cleared so the developer's own never leak in. */
const cliEnvNames = ['BERTH_TOKEN', 'BERTH_ADDR', 'BERTH_CONFIG_DIR', 'NO_COLOR'] as const;

export async function startCliHarness() {
  const saved = Object.fromEntries(cliEnvNames.map((n) => [n, process.env[n]]));
  for (const n of cliEnvNames) delete process.env[n];
  const configDir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  process.env.BERTH_CONFIG_DIR = configDir;

  const service = new TestClusterService();
  const tokens = {
    admin: await mintToken(service, 'admin'),
    deploy: await mintToken(service, 'deploy'),
    read: await mintToken(service, 'read-only'),
  };
  const server: Server<EventSocketData> = serveApi(createApi({ service }), { port: 0 });
  const address = `http://127.0.0.1:${server.port}`;

  async function run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    const token = options.token === undefined ? tokens.admin : options.token;
    const addr = options.address === undefined ? address : options.address;
    const full = [
      ...argv,
      ...(addr === null ? [] : ['--address', addr]),
      ...(token === null ? [] : ['--token', token]),
    ];
    let stdout = '';
    let stderr = '';
    const code = await main(full, {
      out: (t) => {
        stdout += t;
        options.onOut?.(t);
      },
      err: (t) => {
        stderr += t;
      },
      readStdin: async () => options.stdin ?? '',
      signal: options.signal,
      isTty: false,
    });
    return { code, stdout, stderr };
  }

  async function close(): Promise<void> {
    await server.stop(true);
    service.close();
    rmSync(configDir, { recursive: true, force: true });
    for (const n of cliEnvNames) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  }

  return { service, tokens, address, configDir, run, close };
}

export type CliHarness = Awaited<ReturnType<typeof startCliHarness>>;

/**
 * Waits until `check()` holds, yielding to the event loop between tries; gives up after
 * `roundsMax` rounds so a broken stream fails the test instead of hanging it.
 */
export async function waitUntil(check: () => boolean, roundsMax = 2_000): Promise<void> {
  for (let round = 0; round < roundsMax; round++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error('condition not met in time');
}

/** Registers a job directly through the service, bypassing the CLI and the API. */
export async function registerJob(
  harness: CliHarness,
  name: string,
  image = 'nginx:1.27',
): Promise<number> {
  const { index } = await harness.service.propose({
    type: 'job.register',
    job: JobSpecSchema.parse({ name, image, count: 2 }),
  });
  return index;
}
