/**
 * Turns validated spec fields into the normalised `Job` the cluster stores: camelCase
 * names with units last, defaults filled in, port references resolved, and every key
 * written in one fixed order so equal specs serialise to byte-equal JSON.
 */
import type { Constraint, NormalizedPort, SecretBinding, VolumeMount } from './fields.ts';
import type { RawJobFields } from './schema.ts';

/** How a health probe reaches the process. */
export type CheckProbe =
  | { kind: 'http'; path: string; port: string }
  | { kind: 'tcp'; port: string }
  | { kind: 'command'; command: string[] };

export type HealthCheck = CheckProbe & { intervalMs: number; timeoutMs: number; graceMs: number };

export type Driver =
  | { kind: 'docker'; image: string }
  | { kind: 'exec'; command: string[]; workdir: string | null };

export interface Route {
  hosts: string[];
  paths: string[];
  /** Port label, resolved (never absent in the normalised form). */
  port: string;
  tls: boolean;
  /** With tls: plain HTTP answers with a redirect once a certificate exists. */
  redirectHttp: boolean;
  /** With tls: a certificate from secrets instead of an ACME order. */
  certificate?: { certificatePemSecret: string; privateKeyPemSecret: string };
}

/** One normalised job: what `job_registered` carries and what the scheduler reads. */
export interface Job {
  name: string;
  type: 'service' | 'batch' | 'system';
  driver: Driver;
  /** Allocations wanted; system jobs ignore it (one per eligible node). */
  count: number;
  resources: { cpuMhz: number; memoryMb: number };
  env: Record<string, string>;
  secrets: SecretBinding[];
  ports: NormalizedPort[];
  volumes: VolumeMount[];
  check: HealthCheck | null;
  update: {
    maxParallel: number;
    minHealthyTimeMs: number;
    healthyDeadlineMs: number;
    autoRevert: boolean;
    canary: number;
    autoPromote: boolean;
  };
  restart: { attempts: number; intervalMs: number; delayMs: number; mode: 'fail' | 'delay' };
  reschedule: {
    attempts: number;
    intervalMs: number;
    delayMs: number;
    maxDelayMs: number;
    unlimited: boolean;
  };
  constraints: Constraint[];
  spread: boolean;
  routes: Route[];
  /** Job names this job may call, sorted; includes its own accessories. */
  upstreams: string[];
}

/**
 * Normalises one job. Port references were checked by the rules, so a missing port label
 * here means "the only port"; `accessoryKeys` become upstreams named `<name>-<key>`.
 */
export function normalizeJob(name: string, raw: RawJobFields, accessoryKeys: string[]): Job {
  const onlyPort = raw.ports.length === 1 ? raw.ports[0]!.label : '';
  const upstreams = new Set(raw.upstreams);
  for (const key of accessoryKeys) upstreams.add(`${name}-${key}`);
  return {
    name,
    type: raw.type,
    driver: normalizeDriver(raw),
    count: raw.count,
    resources: { cpuMhz: raw.resources.cpu, memoryMb: raw.resources.memory },
    env: raw.env,
    secrets: raw.secrets,
    ports: raw.ports,
    volumes: raw.volumes,
    check: raw.check ? normalizeCheck(raw.check, onlyPort) : null,
    update: {
      maxParallel: raw.update.max_parallel,
      minHealthyTimeMs: raw.update.min_healthy_time,
      healthyDeadlineMs: raw.update.healthy_deadline,
      autoRevert: raw.update.auto_revert,
      canary: raw.update.canary,
      autoPromote: raw.update.auto_promote,
    },
    restart: {
      attempts: raw.restart.attempts,
      intervalMs: raw.restart.interval,
      delayMs: raw.restart.delay,
      mode: raw.restart.mode,
    },
    reschedule: {
      attempts: raw.reschedule.attempts,
      intervalMs: raw.reschedule.interval,
      delayMs: raw.reschedule.delay,
      maxDelayMs: raw.reschedule.max_delay,
      unlimited: raw.reschedule.unlimited,
    },
    constraints: raw.constraints,
    spread: raw.spread,
    routes: raw.routes.map((route) => ({
      hosts: route.hosts,
      paths: route.paths,
      port: route.port ?? onlyPort,
      tls: route.tls,
      redirectHttp: route.redirect_http,
      ...(route.certificate
        ? {
            certificate: {
              certificatePemSecret: route.certificate.certificate_pem,
              privateKeyPemSecret: route.certificate.private_key_pem,
            },
          }
        : {}),
    })),
    upstreams: [...upstreams].sort(),
  };
}

function normalizeDriver(raw: RawJobFields): Driver {
  if (raw.image !== undefined) return { kind: 'docker', image: raw.image };
  return { kind: 'exec', command: raw.command ?? [], workdir: raw.workdir ?? null };
}

function normalizeCheck(check: NonNullable<RawJobFields['check']>, onlyPort: string): HealthCheck {
  const timings = { intervalMs: check.interval, timeoutMs: check.timeout, graceMs: check.grace };
  if (check.http !== undefined) {
    return { kind: 'http', path: check.http, port: check.port ?? onlyPort, ...timings };
  }
  if (check.tcp !== undefined) return { kind: 'tcp', port: check.tcp, ...timings };
  return { kind: 'command', command: check.command ?? [], ...timings };
}
