/**
 * Health probes, run by the supervisor host for `probe` effects. Every probe ends within
 * its target's timeout and never throws: the outcome is `{ ok, detail }`, where the detail
 * is short and fit for an allocation's status (no response bodies, no environment).
 *
 * Command checks run the argv on the host, with the task's (non-secret) environment and
 * working directory. That is what the exec driver's tasks see. For Docker the command
 * would have to run inside the container (`docker exec`), which the driver contract does
 * not offer yet, so command checks of Docker tasks report failure with that reason.
 */
import type { ProbeTarget } from '../../actors/container-supervisor/types.ts';

export interface ProbeOutcome {
  ok: boolean;
  detail: string;
}

/** Output of a command check kept for the detail, in characters. */
const commandDetailCharsMax = 200;

export async function runProbe(
  target: ProbeTarget,
  driverName: 'docker' | 'exec',
): Promise<ProbeOutcome> {
  switch (target.kind) {
    case 'http':
      return probeHttp(target);
    case 'tcp':
      return probeTcp(target);
    case 'command':
      if (driverName === 'docker') {
        return { ok: false, detail: 'command checks are not supported for docker tasks yet' };
      }
      return probeCommand(target);
  }
}

/** Published ports bound to a wildcard address are probed on loopback. */
export function probeHost(hostAddress: string): string {
  if (hostAddress === '' || hostAddress === '0.0.0.0') return '127.0.0.1';
  if (hostAddress === '::') return '::1';
  return hostAddress;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function probeHttp(target: Extract<ProbeTarget, { kind: 'http' }>): Promise<ProbeOutcome> {
  const path = target.path.startsWith('/') ? target.path : `/${target.path}`;
  const url = `http://${urlHost(probeHost(target.host))}:${target.port}${path}`;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(target.timeoutMs),
      redirect: 'manual',
      headers: { 'user-agent': 'berth-health-check' },
    });
    // The body is not needed; cancelling it frees the connection at once.
    await response.body?.cancel();
    const ok = response.status >= 200 && response.status < 400;
    return { ok, detail: `HTTP ${response.status} from ${path}` };
  } catch (error) {
    return { ok: false, detail: `HTTP check of ${path} failed: ${describeError(error)}` };
  }
}

function probeTcp(target: Extract<ProbeTarget, { kind: 'tcp' }>): Promise<ProbeOutcome> {
  const where = `${probeHost(target.host)}:${target.port}`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ ok: false, detail: `TCP connect to ${where} timed out` }),
      target.timeoutMs,
    );
    Bun.connect({
      hostname: probeHost(target.host),
      port: target.port,
      socket: {
        open(socket) {
          socket.end();
          finish({ ok: true, detail: `TCP connect to ${where} succeeded` });
        },
        data() {},
        connectError(_socket, error) {
          finish({ ok: false, detail: `TCP connect to ${where} failed: ${describeError(error)}` });
        },
        error(_socket, error) {
          finish({ ok: false, detail: `TCP connect to ${where} failed: ${describeError(error)}` });
        },
      },
    }).then(
      (socket) => {
        // A connection that opened after the timeout is closed at once.
        if (settled) socket.end();
      },
      (error) =>
        finish({ ok: false, detail: `TCP connect to ${where} failed: ${describeError(error)}` }),
    );
  });
}

async function probeCommand(
  target: Extract<ProbeTarget, { kind: 'command' }>,
): Promise<ProbeOutcome> {
  const name = target.argv[0] ?? '';
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn({
      cmd: target.argv,
      cwd: target.workdir,
      env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...target.env },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
  } catch (error) {
    return { ok: false, detail: `check command ${name} could not start: ${describeError(error)}` };
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), target.timeoutMs);
  try {
    const [exitCode, stdout, stderr] = await Promise.all([
      child.exited,
      new Response(child.stdout as ReadableStream).text(),
      new Response(child.stderr as ReadableStream).text(),
    ]);
    if (child.signalCode === 'SIGKILL' && exitCode !== 0) {
      return { ok: false, detail: `check command ${name} timed out after ${target.timeoutMs}ms` };
    }
    const output = (stdout + stderr).trim().slice(0, commandDetailCharsMax);
    const detail = `check command ${name} exited with code ${exitCode}${output ? `: ${output}` : ''}`;
    return { ok: exitCode === 0, detail };
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.name === 'TimeoutError') return 'timed out';
    return typeof code === 'string' ? code : error.message;
  }
  return String(error);
}
