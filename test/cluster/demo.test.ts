/**
 * `make demo` (scripts/demo.ts) end to end: it forms a three-voter cluster, shows the
 * status table, registers the example job, serves the CLI from "another terminal"
 * through the saved context, and with DEMO_EXIT_AFTER_MS exits 0, stopping its agents,
 * removing its data directory and restoring the CLI contexts.
 */
import { afterAll, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runCli } from './harness.ts';

/** How long the demo keeps running once it is ready (DEMO_EXIT_AFTER_MS). */
const demoRunMs = 20_000;
/** Bound on the whole demo run, start-up and shutdown included. */
const demoBoundMs = 90_000;

const configDir = mkdtempSync(join(tmpdir(), 'berth-demo-test-'));

afterAll(() => {
  rmSync(configDir, { recursive: true, force: true });
});

/** Reads a stream into `sink.text` as it arrives. */
async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
}

test('make demo: three voters, the status table, the example job, the CLI context, a clean exit', async () => {
  // Proves the demo script works from a clean config and leaves nothing behind.
  const proc = Bun.spawn(['bun', join(repoRoot, 'scripts', 'demo.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      BERTH_CONFIG_DIR: configDir,
      DEMO_EXIT_AFTER_MS: String(demoRunMs),
      BERTH_LOG: 'warn',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const killer = setTimeout(() => proc.kill('SIGKILL'), demoBoundMs);
  const out = { text: '' };
  const err = { text: '' };
  const reading = Promise.all([collect(proc.stdout, out), collect(proc.stderr, err)]);
  try {
    // While it runs, the CLI in "another terminal" reaches it through the saved context.
    const readyBy = performance.now() + demoBoundMs;
    while (!out.text.includes('Ctrl-C') && proc.exitCode === null && performance.now() < readyBy) {
      await Bun.sleep(100);
    }
    expect(out.text).toContain('Ctrl-C');
    const status = await runCli(['status', '--json'], { BERTH_CONFIG_DIR: configDir });
    expect(status.code).toBe(0);
    const view = JSON.parse(status.stdout) as {
      leaderId: string | null;
      peers: { voter: boolean }[];
    };
    expect(view.leaderId).not.toBeNull();
    expect(view.peers.filter((p) => p.voter)).toHaveLength(3);
    const jobs = await runCli(['job', 'ls', '--json'], { BERTH_CONFIG_DIR: configDir });
    expect(jobs.stdout).toContain('"hello"');

    const code = await proc.exited;
    await reading;
    expect({ code, stderr: err.text }).toEqual({ code: 0, stderr: '' });
  } finally {
    clearTimeout(killer);
    proc.kill('SIGKILL');
  }
  const text = out.text;
  expect(text).toMatch(/PEER\s+ADDRESS\s+VOTER\s+LEADER\s+LAG/);
  expect(text).toMatch(/ID\s+NAME\s+ADDRESS\s+STATUS\s+VOTER/);
  expect(text.match(/^\d+\s+n\d\s+127\.0\.0\.1:\d+\s+up\s+yes/gm)).toHaveLength(3);
  expect(text).toContain('bun run berth status');
  expect(text).toContain('berth deploy -f examples/hello-exec.yml');
  expect(text).toMatch(/healthy/);
  expect(text).toContain('hello from berth');
  const dir = /data directory (\S+)/.exec(text)?.[1] as string;
  expect(dir).toBeDefined();
  expect(existsSync(dir)).toBe(false);
  // The demo context it added is gone again, and no context is left current.
  const contexts = JSON.parse(readFileSync(join(configDir, 'contexts.json'), 'utf8'));
  expect(contexts).toEqual({ contexts: {} });
}, 120_000);
