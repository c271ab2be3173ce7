/**
 * The agent's configuration: one zod schema, parsed once at start (STYLE.md rule 14).
 * Sources, later ones winning: defaults < the YAML/JSON file (`--config`) < environment
 * variables (`BERTH_<FIELD>` for top-level scalars) < command-line flags. Every field says
 * its unit and default.
 */
import { z } from 'zod';
import { BerthError } from '../core/errors.ts';

const port = z.number().int().min(0).max(65_535);

export const AgentConfigSchema = z
  .object({
    /** Human name of this node, shown in `berth node ls`. Default: the host name. */
    nodeName: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, 'letters, digits, . _ -'),
    /** Where the node keeps its databases, certificates and keys. Default `/var/lib/berth`. */
    dataDir: z.string().min(1).default('/var/lib/berth'),
    /** Address the agent listens on (peer and API ports). Default `127.0.0.1`. */
    bindAddress: z.string().min(1).default('127.0.0.1'),
    /** Address other nodes use to reach this one. Default: `bindAddress`. */
    advertiseAddress: z.string().min(1).optional(),
    /** Port of the mutual-TLS peer transport (Raft, node to node). Default 4650. */
    peerPort: port.default(4650),
    /** Port of the HTTPS API and panel. Default 4646 (Nomad's, familiar to operators). */
    apiPort: port.default(4646),
    /**
     * Port of the HTTP router that proxies routed jobs (`routes:` in a spec) to healthy
     * allocations anywhere in the cluster. Default 80; 0 turns the router off.
     */
    httpPort: port.default(80),
    /**
     * Port of the router's HTTPS listener (certificates chosen by SNI: ACME ones and the
     * routes' custom ones). Default 443; 0 turns HTTPS off (and with it HTTP redirects).
     */
    httpsPort: port.default(443),
    /** Raft tick interval in ms; timeouts are whole ticks. Default 50 ms (see the Raft core). */
    raftTickMs: z.number().int().min(5).max(1_000).default(50),
    /**
     * Multiplies every Raft timeout, like Nomad's `raft_multiplier`: 1 on a LAN; raise it
     * for slow or distant networks. Default 1, at most 10.
     */
    raftMultiplier: z.number().int().min(1).max(10).default(1),
    /** How many voters the cluster keeps; workers are promoted up to it. 3 or 5. Default 3. */
    votersTarget: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(3),
    /** How often a node heartbeats to the leader, in ms. Default 500 ms. */
    heartbeatIntervalMs: z.number().int().min(50).max(60_000).default(500),
    /** A node silent for this long is declared down, in ms. Default 3000 ms. */
    nodeTtlMs: z.number().int().min(200).max(600_000).default(3_000),
    /** How long a write is held and retried while there is no leader, in ms. Default 5000. */
    writeHoldMs: z.number().int().min(0).max(60_000).default(5_000),
    /** Labels for placement constraints, e.g. `{ zone: a }`. Default none. */
    labels: z.record(z.string(), z.string()).default({}),
    /**
     * ACME, for routes with `tls: true` (the leader orders; every router serves). `directory`
     * is `production` (Let's Encrypt), `staging` (Let's Encrypt's staging, untrusted
     * certificates for trying things out) or a directory URL (e.g. a private ACME CA).
     * `caFile` trusts an extra CA for the directory's HTTPS (a private CA, Pebble in tests).
     */
    acme: z
      .strictObject({
        directory: z
          .union([z.enum(['production', 'staging']), z.url({ protocol: /^https?$/ })])
          .default('production'),
        email: z.email().optional(),
        caFile: z.string().min(1).optional(),
      })
      .default({ directory: 'production' }),
    /** Log level: debug, info, warn, error. Default warn (quiet). */
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('warn'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.nodeTtlMs < 2 * c.heartbeatIntervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodeTtlMs'],
        message: 'must be at least twice heartbeatIntervalMs, or healthy nodes flap',
      });
    }
  });

export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** Environment variables that map onto top-level fields (`BERTH_DATA_DIR` → `dataDir`). */
const envFields = {
  BERTH_NODE_NAME: 'nodeName',
  BERTH_DATA_DIR: 'dataDir',
  BERTH_BIND_ADDRESS: 'bindAddress',
  BERTH_ADVERTISE_ADDRESS: 'advertiseAddress',
  BERTH_PEER_PORT: 'peerPort',
  BERTH_API_PORT: 'apiPort',
  BERTH_HTTP_PORT: 'httpPort',
  BERTH_HTTPS_PORT: 'httpsPort',
  BERTH_LOG_LEVEL: 'logLevel',
  BERTH_LOG: 'logLevel',
} as const;

/** Nested settings with their own variables (`BERTH_ACME_DIRECTORY` → `acme.directory`). */
const envAcmeFields = {
  BERTH_ACME_DIRECTORY: 'directory',
  BERTH_ACME_EMAIL: 'email',
  BERTH_ACME_CA_FILE: 'caFile',
} as const;

const numericFields = new Set(['peerPort', 'apiPort', 'httpPort', 'httpsPort']);

/** Reads `BERTH_*` variables into a partial config (numbers parsed, nothing validated yet). */
export function configFromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [variable, field] of Object.entries(envFields)) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    out[field] = numericFields.has(field) ? Number(raw) : raw;
  }
  const acme: Record<string, string> = {};
  for (const [variable, field] of Object.entries(envAcmeFields)) {
    const raw = env[variable];
    if (raw !== undefined && raw !== '') acme[field] = raw;
  }
  if (Object.keys(acme).length > 0) out.acme = acme;
  return out;
}

/** Parses a config file's text (YAML or JSON; JSON is YAML). Throws BerthError `bad_config`. */
export function parseConfigText(text: string, source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = Bun.YAML.parse(text);
  } catch (error) {
    throw new BerthError('bad_config', `${source}: not valid YAML: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BerthError('bad_config', `${source}: expected a mapping of settings at the top`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Merges the sources (later wins) and validates once. Errors name every bad field with
 * its path, and say where to look.
 */
export function resolveConfig(...sources: Record<string, unknown>[]): AgentConfig {
  const merged: Record<string, unknown> = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      if (value !== undefined) merged[key] = value;
    }
  }
  const result = AgentConfigSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new BerthError('bad_config', `invalid agent configuration: ${problems.join('; ')}`, {
      problems,
    });
  }
  return result.data;
}

/** The address peers and clients should dial for this node. */
export function advertisedAddress(config: AgentConfig): string {
  return config.advertiseAddress ?? config.bindAddress;
}
