/**
 * The field-level schemas of the job spec: names, durations, commands, ports, volumes and
 * the nested policy blocks. `schema.ts` assembles them into the job and adds the rules that
 * span fields. Every schema here takes the authoring (YAML) form and outputs normalised
 * values: durations in ms, commands as argv, lists and maps in a stable order.
 */
import { z } from 'zod';
import { limits } from '../core/limits.ts';
import { splitArgv } from './argv.ts';
import { durationPatternSource, parseDurationMs } from './duration.ts';

/** Stable codes of spec rules that zod's own issue codes do not express. */
export type SpecRuleCode =
  | 'invalid_duration'
  | 'invalid_command'
  | 'invalid_volume'
  | 'invalid_host'
  | 'invalid_constraint'
  | 'invalid_check'
  | 'driver_conflict'
  | 'driver_missing'
  | 'unknown_port'
  | 'missing_port'
  | 'duplicate_port'
  | 'env_conflict'
  | 'invalid_name'
  | 'certificate_without_tls';

type IssueContext = Pick<z.RefinementCtx, 'addIssue'>;

/** Adds an issue that the spec parser reports with `code` and an optional hint. */
export function addSpecIssue(
  ctx: IssueContext,
  code: SpecRuleCode,
  path: (string | number)[],
  message: string,
  hint?: string,
): void {
  ctx.addIssue({ code: 'custom', message, path, params: { specCode: code, hint } });
}

/** DNS-label names: they become container names, DNS names and metric labels. */
export const NameSchema = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    'must be 1-63 lowercase letters, digits or dashes, not starting or ending with a dash',
  );

/** An environment variable name. */
export const EnvNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name like DATABASE_URL');

/** A secret's name in the cluster's secret store (`berth secret set NAME`). */
export const SecretNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be letters, digits, _ . - (1-128)');

/** A TCP port number. */
export const PortNumberSchema = z.number().int().min(1).max(65_535);

/** A duration string ("500ms", "5s", "2m", "1h30m"), output in ms. */
export function durationMs(defaultText: string) {
  return DurationSchema.prefault(defaultText);
}

/** The duration schema itself (undefaulted); the error mapper recognises it by identity. */
export const DurationSchema = z
  .string()
  .meta({ pattern: durationPatternSource })
  .transform((text, ctx) => {
    const parsedMs = parseDurationMs(text);
    if (parsedMs === null) {
      addSpecIssue(
        ctx,
        'invalid_duration',
        [],
        `"${text}" is not a duration`,
        'write a number with a unit: 500ms, 5s, 2m, 1h or 1h30m',
      );
      return z.NEVER;
    }
    return parsedMs;
  });

const ArgvItemSchema = z.string().min(1).max(4_096);

/** A command as argv (`["bun", "server.ts"]`) or one string split like a shell would. */
export const CommandSchema = z
  .union([z.array(ArgvItemSchema).min(1).max(limits.specListItemsMax), z.string().min(1)], {
    error: 'expected a command: a list of arguments or one string',
  })
  .transform((command, ctx) => {
    if (Array.isArray(command)) return command;
    const argv = splitArgv(command);
    if (argv === null || argv.length === 0) {
      addSpecIssue(
        ctx,
        'invalid_command',
        [],
        'the command has an unterminated quote or trailing backslash',
        'write it as a list: ["bun", "-e", "…"]',
      );
      return z.NEVER;
    }
    return argv;
  });

/** One port: a bare container port, or `{to, static}` (static pins the host port). */
const PortSchema = z.union(
  [
    PortNumberSchema,
    z.strictObject({
      to: PortNumberSchema.describe(
        'The port the process listens on inside the container (exec: the port it binds).',
      ),
      static: PortNumberSchema.optional().describe(
        'A fixed host port; when absent the scheduler picks a free dynamic host port.',
      ),
    }),
  ],
  { error: 'expected a port number or {to: <port>, static: <host port>}' },
);

export interface NormalizedPort {
  label: string;
  to: number;
  /** Host port fixed by the spec, or null for a dynamic port chosen at placement. */
  static: number | null;
}

/** `ports:` map label → port, output as a list sorted by label. */
export const PortsSchema = z
  .record(NameSchema, PortSchema)
  .default({})
  .transform((ports): NormalizedPort[] =>
    Object.keys(ports)
      .sort()
      .map((label) => {
        const port = ports[label]!;
        if (typeof port === 'number') return { label, to: port, static: null };
        return { label, to: port.to, static: port.static ?? null };
      }),
  );

/** Refuses maps with more than `limits.specListItemsMax` entries. */
export function withinItemsMax(map: Record<string, unknown>): boolean {
  return Object.keys(map).length <= limits.specListItemsMax;
}
const itemsMaxMessage = `at most ${limits.specListItemsMax} entries`;

/** Clear environment values; numbers and booleans are written as YAML scalars and kept as text. */
export const EnvSchema = z
  .record(EnvNameSchema, z.union([z.string(), z.number(), z.boolean()]))
  .refine(withinItemsMax, itemsMaxMessage)
  .default({})
  .transform((env) => {
    const sorted: Record<string, string> = {};
    for (const name of Object.keys(env).sort()) sorted[name] = String(env[name]);
    return sorted;
  });

export interface SecretBinding {
  /** Environment variable the secret's value is exposed as. */
  env: string;
  /** Name of the secret in the cluster's secret store. */
  secret: string;
}

/** Secrets: a list of names (env var = secret name) or a map ENV_VAR: SECRET_NAME. */
export const SecretsSchema = z
  .union(
    [
      z.array(EnvNameSchema).max(limits.specListItemsMax),
      z.record(EnvNameSchema, SecretNameSchema).refine(withinItemsMax, itemsMaxMessage),
    ],
    { error: 'expected a list of secret names or a map ENV_VAR: SECRET_NAME' },
  )
  .default([])
  .transform((secrets): SecretBinding[] => {
    const pairs = Array.isArray(secrets)
      ? secrets.map((name) => ({ env: name, secret: name }))
      : Object.entries(secrets).map(([env, secret]) => ({ env, secret }));
    return pairs.sort((a, b) => (a.env < b.env ? -1 : a.env > b.env ? 1 : 0));
  });

export interface VolumeMount {
  /** Named volume; the node that holds it is where the allocation must run. */
  name: string;
  /** Absolute mount path inside the container. */
  path: string;
  readOnly: boolean;
}

const volumePattern = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?):(\/[^:\0]*)(?::(ro|rw))?$/;

/** Named volumes `name:/path` (optionally `:ro`), output sorted by path. */
export const VolumesSchema = z
  .array(
    z.string().transform((text, ctx): VolumeMount => {
      const match = volumePattern.exec(text);
      if (!match) {
        addSpecIssue(
          ctx,
          'invalid_volume',
          [],
          `"${text}" is not a named volume mount`,
          'write volume-name:/absolute/path, or add :ro for read-only',
        );
        return z.NEVER;
      }
      return { name: match[1]!, path: match[3]!, readOnly: match[4] === 'ro' };
    }),
  )
  .max(limits.specListItemsMax)
  .default([])
  .transform((mounts) => mounts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));

/** Authoring form of a health check; exactly one of `http`, `tcp`, `command`. */
export const CheckSchema = z.strictObject({
  http: z
    .string()
    .startsWith('/', 'must be a path starting with /')
    .max(1_024)
    .optional()
    .describe('HTTP GET of this path must answer 2xx/3xx.'),
  port: NameSchema.optional().describe(
    "Port label for `http` checks (default: the job's only port).",
  ),
  tcp: NameSchema.optional().describe('A TCP connect to this port label must succeed.'),
  command: CommandSchema.optional().describe('This command, run beside the process, must exit 0.'),
  interval: durationMs('5s').describe('Time between two probes (default 5s).'),
  timeout: durationMs('2s').describe('A probe slower than this fails (default 2s).'),
  grace: durationMs('10s').describe(
    'Failures right after start are ignored for this long (default 10s).',
  ),
});

/** Rolling-update policy. */
export const UpdateSchema = z.strictObject({
  max_parallel: z
    .number()
    .int()
    .min(1)
    .max(limits.specListItemsMax)
    .default(1)
    .describe('Allocations replaced at once (default 1).'),
  min_healthy_time: durationMs('10s').describe(
    'A new allocation must stay healthy this long to count (default 10s).',
  ),
  healthy_deadline: durationMs('5m').describe(
    'An allocation not healthy by then fails the deployment (default 5m).',
  ),
  auto_revert: z
    .boolean()
    .default(true)
    .describe('A failed deployment rolls back to the last good version (default true).'),
  canary: z
    .number()
    .int()
    .min(0)
    .max(limits.specListItemsMax)
    .default(0)
    .describe('Canary allocations started before the rolling replacement (default 0).'),
  auto_promote: z
    .boolean()
    .default(false)
    .describe(
      'Promote canaries once healthy without a manual `berth deploy promote` (default false).',
    ),
});

/** Local restarts of a failed process before the allocation is declared failed. */
export const RestartSchema = z.strictObject({
  attempts: z
    .number()
    .int()
    .min(0)
    .max(1_000)
    .default(2)
    .describe('Restarts allowed within `interval` (default 2).'),
  interval: durationMs('30m').describe('Window over which attempts are counted (default 30m).'),
  delay: durationMs('15s').describe('Wait before each restart (default 15s).'),
  mode: z
    .enum(['fail', 'delay'])
    .default('fail')
    .describe('After the attempts: `fail` the allocation, or `delay` until the interval passes.'),
});

/** Rescheduling a failed allocation onto another node. */
export const RescheduleSchema = z.strictObject({
  attempts: z
    .number()
    .int()
    .min(0)
    .max(1_000)
    .default(0)
    .describe('Reschedules allowed within `interval` when not unlimited (default 0).'),
  interval: durationMs('0s').describe(
    'Window over which attempts are counted (default 0s: no window).',
  ),
  delay: durationMs('30s').describe(
    'First delay before a reschedule, doubled each time (default 30s).',
  ),
  max_delay: durationMs('1h').describe('Cap on the doubled delay (default 1h).'),
  unlimited: z
    .boolean()
    .default(true)
    .describe('Reschedule forever, ignoring attempts and interval (default true).'),
});

const constraintOperators = ['=', '!=', 'in', 'not_in', 'regex'] as const;
const ScalarSchema = z.union([z.string(), z.number(), z.boolean()]).transform(String);

export interface Constraint {
  attribute: string;
  operator: (typeof constraintOperators)[number];
  /** A list for `in` / `not_in`, one string otherwise. */
  value: string | string[];
}

/** One placement rule: `{attribute: node.label.zone, operator: in, value: [a, b]}`. */
export const ConstraintSchema = z
  .strictObject({
    attribute: z
      .string()
      .regex(
        /^node\.(label\.[A-Za-z0-9_./-]{1,128}|name|role)$/,
        'must be node.label.<key>, node.name or node.role',
      )
      .describe('node.label.<key>, node.name or node.role'),
    operator: z
      .enum(constraintOperators)
      .default('=')
      .describe('= | != | in | not_in | regex (default =)'),
    value: z
      .union([ScalarSchema, z.array(ScalarSchema).min(1).max(limits.specListItemsMax)], {
        error: 'expected a value or a list of values',
      })
      .describe('A value; a list for in and not_in; a pattern for regex.'),
  })
  .transform((constraint, ctx): Constraint => {
    const { operator, value } = constraint;
    const wantsList = operator === 'in' || operator === 'not_in';
    if (wantsList !== Array.isArray(value)) {
      const wanted = wantsList ? 'a list of values' : 'a single value';
      addSpecIssue(ctx, 'invalid_constraint', ['value'], `operator ${operator} takes ${wanted}`);
      return z.NEVER;
    }
    if (operator === 'regex' && !isValidRegex(value as string)) {
      addSpecIssue(ctx, 'invalid_constraint', ['value'], `"${value}" is not a valid regex`);
      return z.NEVER;
    }
    return { attribute: constraint.attribute, operator, value };
  });

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const hostLabelPattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * RFC 1123 host names (letters, digits, dashes; labels of 1-63; at most 253 in all),
 * optionally with a leading `*.` wildcard. Returns the reason a name is refused, or null.
 */
export function hostProblem(host: string): string | null {
  if (host.length === 0 || host.length > 253) return 'must be 1-253 characters';
  const labels = (host.startsWith('*.') ? host.slice(2) : host).split('.');
  if (labels.length < 1) return 'must have at least one label';
  for (const label of labels) {
    if (!hostLabelPattern.test(label)) {
      return `label "${label}" must be 1-63 lowercase letters, digits or inner dashes`;
    }
  }
  if (/^[0-9]+$/.test(labels.at(-1)!)) return 'the top-level label must not be all digits';
  return null;
}

/** A route host; host names are case-insensitive, so they are stored lowercase. */
export const HostSchema = z.string().transform((text, ctx) => {
  const host = text.toLowerCase();
  const problem = hostProblem(host);
  if (problem !== null) {
    addSpecIssue(ctx, 'invalid_host', [], `"${host}" is not a valid host name: ${problem}`);
    return z.NEVER;
  }
  return host;
});

/** One HTTP(S) route into the job through the cluster's router. */
export const RouteSchema = z.strictObject({
  hosts: z
    .array(HostSchema)
    .min(1)
    .max(limits.specListItemsMax)
    .describe('Host names served (RFC 1123; `*.example.com` allowed without tls).'),
  paths: z
    .array(z.string().startsWith('/', 'must start with /').max(1_024))
    .min(1)
    .max(limits.specListItemsMax)
    .default(['/'])
    .describe('Path prefixes served (default ["/"]).'),
  port: NameSchema.optional().describe(
    "Port label traffic goes to (default: the job's only port).",
  ),
  tls: z
    .boolean()
    .default(false)
    .describe('Serve HTTPS with an automatic ACME certificate and redirect HTTP (default false).'),
  redirect_http: z
    .boolean()
    .default(true)
    .describe(
      'With tls: answer plain HTTP with a 308 redirect to HTTPS once the certificate is there (default true).',
    ),
  certificate: z
    .strictObject({
      certificate_pem: SecretNameSchema.describe('Secret holding the certificate chain in PEM.'),
      private_key_pem: SecretNameSchema.describe('Secret holding its private key in PEM.'),
    })
    .optional()
    .describe(
      "With tls: serve this certificate from secrets instead of ordering one (Kamal's ssl: { certificate_pem, private_key_pem }).",
    ),
});
