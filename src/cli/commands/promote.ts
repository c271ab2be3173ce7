/**
 * `berth promote JOB`: promotes the canaries of the job's running deployment, so the
 * rolling update replaces the rest of the old version (Nomad's `deployment promote`).
 * Jobs with `update.auto_promote` are promoted by the leader once their canaries are
 * healthy; this is for the others.
 */
import { emit } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, positionals, segment } from './shared.ts';

interface PromoteBody {
  index: number;
  deployment: { id: string; jobVersion: number; status: string; promoted?: boolean };
}

export const promoteCommands: Command[] = [
  {
    path: ['promote'],
    summary: 'promote a job’s canaries: the rollout replaces the rest (deploy or admin)',
    usage: 'berth promote JOB [--json]',
    flags: [],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['JOB']) as [string];
      const body = await clientFor(args, out).request<PromoteBody>(
        `/v1/jobs/${segment(name)}/promote`,
        { method: 'POST' },
      );
      const { deployment } = body;
      emit(
        out,
        body,
        () =>
          `deployment ${deployment.id} of ${name} version ${deployment.jobVersion} promoted: the rollout continues past its canaries (log index ${body.index})`,
      );
      return exitCode.ok;
    },
  },
];
