/** `berth job ls|status|stop|history`: the `/v1/jobs` routes, with allocations for status. */
import { ago, emit, table } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, itemsOf, positionals, segment } from './shared.ts';

/** The parts of a (normalised) job spec the tables show. */
interface SpecView {
  driver: { kind: 'docker'; image: string } | { kind: 'exec'; command: string[] };
  count: number;
}

/** What the job runs: its image, or its command for the exec driver. */
function runsText(spec: SpecView): string {
  return spec.driver.kind === 'docker' ? spec.driver.image : spec.driver.command.join(' ');
}

interface JobView {
  name: string;
  version: number;
  status: string;
  spec: SpecView;
  index: number;
  updatedAtMs: number;
}

interface JobVersionView {
  name: string;
  version: number;
  spec: SpecView;
  index: number;
  registeredAtMs: number;
}

interface AllocationView {
  id: string;
  jobVersion: number;
  node: string;
  status: string;
  updatedAtMs: number;
}

interface DeploymentView {
  id: string;
  jobVersion: number;
  status: string;
  updatedAtMs: number;
}

function jobStatusText(
  job: JobView,
  allocations: AllocationView[],
  deployments: DeploymentView[],
): string {
  const lines = [
    `name:     ${job.name}`,
    `status:   ${job.status}`,
    `version:  ${job.version} (log index ${job.index}, ${ago(job.updatedAtMs)})`,
    `${job.spec.driver.kind === 'docker' ? 'image:  ' : 'command:'}  ${runsText(job.spec)}`,
    `count:    ${job.spec.count}`,
    '',
  ];
  lines.push(
    allocations.length === 0
      ? 'allocations: none yet'
      : table(
          ['allocation', 'version', 'node', 'status', 'updated'],
          allocations.map((a) => [a.id, a.jobVersion, a.node, a.status, ago(a.updatedAtMs)]),
        ),
  );
  if (deployments.length > 0) {
    lines.push(
      '',
      table(
        ['deployment', 'version', 'status', 'updated'],
        deployments.map((d) => [d.id, d.jobVersion, d.status, ago(d.updatedAtMs)]),
      ),
    );
  }
  return lines.join('\n');
}

export const jobCommands: Command[] = [
  {
    path: ['job', 'ls'],
    aliases: [['job', 'list'], ['jobs']],
    summary: 'list jobs',
    usage: 'berth job ls [--json]',
    flags: [],
    async run(args, out) {
      positionals(args, this.usage, []);
      const jobs = itemsOf<JobView>(await clientFor(args, out).request('/v1/jobs'), 'job');
      emit(out, jobs, () =>
        table(
          ['name', 'version', 'status', 'image', 'count', 'updated'],
          jobs.map((j) => [
            j.name,
            j.version,
            j.status,
            runsText(j.spec),
            j.spec.count,
            ago(j.updatedAtMs),
          ]),
        ),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['job', 'status'],
    summary: 'show one job with its allocations and deployments',
    usage: 'berth job status NAME [--json]',
    flags: [],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['NAME']) as [string];
      const client = clientFor(args, out);
      const job = await client.request<JobView>(`/v1/jobs/${segment(name)}`);
      const query = { job: name };
      const [allocs, deploys] = await Promise.all([
        client.request('/v1/allocations', { query }),
        client.request('/v1/deployments', { query }),
      ]);
      const allocations = itemsOf<AllocationView>(allocs, 'allocation');
      const deployments = itemsOf<DeploymentView>(deploys, 'deployment');
      emit(out, { job, allocations, deployments }, () =>
        jobStatusText(job, allocations, deployments),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['job', 'stop'],
    summary: 'stop a job (deploy or admin); its versions stay in the history',
    usage: 'berth job stop NAME',
    flags: [],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['NAME']) as [string];
      const body = await clientFor(args, out).request<{ index: number; job: JobView | null }>(
        `/v1/jobs/${segment(name)}`,
        { method: 'DELETE' },
      );
      emit(out, body, () => `job ${name} stopped (log index ${body.index})`);
      return exitCode.ok;
    },
  },
  {
    path: ['job', 'history'],
    summary: 'list a job’s versions, newest first',
    usage: 'berth job history NAME [--json]',
    flags: [],
    async run(args, out) {
      const [name] = positionals(args, this.usage, ['NAME']) as [string];
      const body = await clientFor(args, out).request(`/v1/jobs/${segment(name)}/history`);
      const versions = itemsOf<JobVersionView>(body, 'version');
      emit(out, versions, () =>
        table(
          ['version', 'image', 'count', 'log index', 'registered'],
          versions.map((v) => [
            v.version,
            runsText(v.spec),
            v.spec.count,
            v.index,
            ago(v.registeredAtMs),
          ]),
        ),
      );
      return exitCode.ok;
    },
  },
];
