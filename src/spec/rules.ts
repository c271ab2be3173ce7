/**
 * Rules that span fields of one job: the driver choice, port references from checks and
 * routes, host-port clashes, env/secret clashes and name lengths. They run after every
 * field has parsed, on the validated (not yet normalised) fields.
 */
import type { z } from 'zod';
import { addSpecIssue } from './fields.ts';
import type { RawJobFields } from './schema.ts';

type Path = (string | number)[];

/**
 * Adds an issue to `ctx` for every rule `job` breaks (`prefix` locates an accessory);
 * returns whether it added any.
 */
export function checkJobRules(
  job: RawJobFields & { name?: string; accessories?: Record<string, unknown> },
  outer: z.RefinementCtx,
  prefix: Path,
): boolean {
  let added = 0;
  const ctx = {
    addIssue: (issue: Parameters<z.RefinementCtx['addIssue']>[0]) => {
      added += 1;
      outer.addIssue(issue);
    },
  } as z.RefinementCtx;
  checkDriver(job, ctx, prefix);
  checkPortReferences(job, ctx, prefix);
  checkStaticPorts(job, ctx, prefix);
  checkEnvClashes(job, ctx, prefix);
  checkRouteTls(job, ctx, prefix);
  if (job.name !== undefined && job.accessories !== undefined) {
    for (const key of Object.keys(job.accessories)) {
      const jobName = `${job.name}-${key}`;
      if (jobName.length > 63) {
        addSpecIssue(
          ctx,
          'invalid_name',
          ['accessories', key],
          `accessory job name "${jobName}" is longer than 63 characters`,
          'shorten the job name or the accessory key',
        );
      }
    }
  }
  return added > 0;
}

function checkDriver(job: RawJobFields, ctx: z.RefinementCtx, prefix: Path): void {
  if (job.image !== undefined && job.command !== undefined) {
    addSpecIssue(
      ctx,
      'driver_conflict',
      [...prefix, 'command'],
      'image and command are both set',
      'use image for a Docker container or command for a plain process, not both',
    );
  } else if (job.image === undefined && job.command === undefined) {
    addSpecIssue(
      ctx,
      'driver_missing',
      prefix,
      'neither image nor command is set',
      'add image: <docker image> or command: [argv…]',
    );
  }
  if (job.workdir !== undefined && job.command === undefined) {
    addSpecIssue(
      ctx,
      'driver_conflict',
      [...prefix, 'workdir'],
      'workdir applies to command (exec driver) only',
    );
  }
}

/** Every port label a check or route names must exist; an omitted one needs exactly one port. */
function checkPortReferences(job: RawJobFields, ctx: z.RefinementCtx, prefix: Path): void {
  const labels = job.ports.map((port) => port.label);
  const check = job.check;
  if (check) {
    const kinds = [check.http, check.tcp, check.command].filter((kind) => kind !== undefined);
    if (kinds.length !== 1) {
      addSpecIssue(
        ctx,
        'invalid_check',
        [...prefix, 'check'],
        'a check needs exactly one of http, tcp or command',
      );
    } else if (check.port !== undefined && check.http === undefined) {
      addSpecIssue(
        ctx,
        'invalid_check',
        [...prefix, 'check', 'port'],
        'port belongs to http checks; a tcp check names its port label itself',
      );
    }
    if (check.http !== undefined) {
      checkPortLabel(labels, check.port, ctx, [...prefix, 'check', 'port']);
    }
    if (check.tcp !== undefined)
      checkPortLabel(labels, check.tcp, ctx, [...prefix, 'check', 'tcp']);
  }
  job.routes.forEach((route, index) => {
    checkPortLabel(labels, route.port, ctx, [...prefix, 'routes', index, 'port']);
  });
}

function checkPortLabel(
  labels: string[],
  label: string | undefined,
  ctx: z.RefinementCtx,
  path: Path,
): void {
  const known = labels.length === 0 ? 'the job declares no ports' : `ports: ${labels.join(', ')}`;
  if (label === undefined) {
    if (labels.length !== 1) {
      addSpecIssue(ctx, 'missing_port', path, `a port label is required (${known})`);
    }
  } else if (!labels.includes(label)) {
    addSpecIssue(ctx, 'unknown_port', path, `unknown port label "${label}" (${known})`);
  }
}

function checkStaticPorts(job: RawJobFields, ctx: z.RefinementCtx, prefix: Path): void {
  const seen = new Map<number, string>();
  for (const port of job.ports) {
    if (port.static === null) continue;
    const other = seen.get(port.static);
    if (other !== undefined) {
      addSpecIssue(
        ctx,
        'duplicate_port',
        [...prefix, 'ports', port.label],
        `static host port ${port.static} is also used by port "${other}"`,
      );
    }
    seen.set(port.static, port.label);
  }
}

function checkEnvClashes(job: RawJobFields, ctx: z.RefinementCtx, prefix: Path): void {
  const seen = new Set<string>();
  for (const binding of job.secrets) {
    if (binding.env in job.env) {
      addSpecIssue(
        ctx,
        'env_conflict',
        [...prefix, 'env', binding.env],
        `${binding.env} is set both in env and from secret "${binding.secret}"`,
      );
    }
    if (seen.has(binding.env)) {
      addSpecIssue(ctx, 'env_conflict', [...prefix, 'secrets'], `${binding.env} is listed twice`);
    }
    seen.add(binding.env);
  }
}

/** ACME's HTTP challenge cannot prove a wildcard name, so tls routes need exact hosts. */
function checkRouteTls(job: RawJobFields, ctx: z.RefinementCtx, prefix: Path): void {
  job.routes.forEach((route, index) => {
    if (!route.tls) {
      if (route.certificate !== undefined) {
        addSpecIssue(
          ctx,
          'certificate_without_tls',
          [...prefix, 'routes', index, 'certificate'],
          'a custom certificate is only served on a tls route',
          'set tls: true on this route, or remove certificate',
        );
      }
      return;
    }
    route.hosts.forEach((host, hostIndex) => {
      if (!host.startsWith('*.')) return;
      addSpecIssue(
        ctx,
        'invalid_host',
        [...prefix, 'routes', index, 'hosts', hostIndex],
        `wildcard host "${host}" cannot have an automatic certificate`,
        'list the exact host names, or set tls: false',
      );
    });
  });
}
