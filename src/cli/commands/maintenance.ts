/**
 * `berth maintenance on|off JOB`: every router answers the job's routes with 503 and a
 * message (an HTML page for browsers, JSON otherwise) instead of proxying, until it is
 * turned off (Kamal's `kamal app maintenance [--message]` / `kamal app live`). Maintenance
 * survives a redeploy of the job: the operator ends it.
 */
import { BerthError } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import { flagString, type ParsedArgs } from '../args.ts';
import { emit, type Output } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, positionals, segment } from './shared.ts';

interface MaintenanceBody {
  index: number;
  maintenance: { enabled: boolean; message: string | null };
}

/** Checks the message locally, so a bad one is a usage error before any request. */
function messageOf(args: ParsedArgs, usage: string): string | undefined {
  const message = flagString(args, 'message');
  if (message === undefined) return undefined;
  const max = limits.stateMaintenanceMessageLengthMax;
  if (message.length === 0 || message.length > max) {
    throw new BerthError(
      'usage',
      `--message must be 1 to ${max} characters, got ${message.length}; usage: ${usage}`,
    );
  }
  return message;
}

async function setMaintenance(
  args: ParsedArgs,
  out: Output,
  name: string,
  body: { enabled: boolean; message?: string },
): Promise<number> {
  const answer = await clientFor(args, out).request<MaintenanceBody>(
    `/v1/jobs/${segment(name)}/maintenance`,
    { method: 'POST', body },
  );
  const { maintenance } = answer;
  emit(out, answer, () =>
    maintenance.enabled
      ? `${name} is in maintenance: its routes answer 503 "${maintenance.message}" (log index ${answer.index})`
      : `${name} is live again: its routes proxy to its allocations (log index ${answer.index})`,
  );
  return exitCode.ok;
}

export const maintenanceCommands: Command[] = [
  {
    path: ['maintenance', 'on'],
    summary: 'put a job in maintenance: its routes answer 503 with a message (deploy or admin)',
    usage: 'berth maintenance on JOB [--message TEXT] [--json]',
    flags: [{ name: 'message', help: 'what visitors see (default: down for maintenance)' }],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['JOB']) as [string];
      const message = messageOf(args, this.usage);
      return setMaintenance(args, out, name, { enabled: true, message });
    },
  },
  {
    path: ['maintenance', 'off'],
    summary: 'end a job’s maintenance: its routes proxy again (deploy or admin)',
    usage: 'berth maintenance off JOB [--json]',
    flags: [],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['JOB']) as [string];
      return setMaintenance(args, out, name, { enabled: false });
    },
  },
];
