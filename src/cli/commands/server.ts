/**
 * Commands that create or run a node: `berth server init`, `berth server join`,
 * `berth agent`, and `berth node join-token` (which mints what `join` needs).
 * The ports and addresses chosen at init/join are saved in the data directory's
 * `agent.yml`, so `berth agent --data-dir D` starts the node as it was created.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.ts';
import { configFromEnv, parseConfigText, resolveConfig } from '../../agent/config.ts';
import { writeFileAtomic } from '../../agent/data-dir.ts';
import { initCluster } from '../../agent/init.ts';
import { joinCluster } from '../../agent/join.ts';
import { BerthError } from '../../core/errors.ts';
import { type FlagSpec, flagInt, flagString, type ParsedArgs } from '../args.ts';
import { useContext } from '../context.ts';
import { emit, type Output, paint } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, positionals } from './shared.ts';

const nodeFlags: FlagSpec[] = [
  { name: 'data-dir', short: 'd', help: 'data directory (default /var/lib/berth)' },
  { name: 'name', help: 'node name (default: the host name)' },
  { name: 'bind', help: 'address to listen on (default 127.0.0.1)' },
  { name: 'advertise', help: 'address other nodes dial (default: --bind)' },
  { name: 'api-port', help: 'HTTPS API port (default 4646)' },
  { name: 'peer-port', help: 'peer (Raft) port (default 4650)' },
  { name: 'http-port', help: 'HTTP router port (default 80; 0 turns the router off)' },
  { name: 'https-port', help: 'HTTPS router port (default 443; 0 turns TLS off)' },
];

const agentFileName = 'agent.yml';

/** The node settings given as flags, in config field names. */
function nodeSettings(args: ParsedArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const set = (field: string, value: unknown) => {
    if (value !== undefined) out[field] = value;
  };
  set('dataDir', flagString(args, 'data-dir'));
  set('nodeName', flagString(args, 'name'));
  set('bindAddress', flagString(args, 'bind'));
  set('advertiseAddress', flagString(args, 'advertise'));
  if (flagString(args, 'api-port') !== undefined) set('apiPort', flagInt(args, 'api-port', 4646));
  if (flagString(args, 'peer-port') !== undefined)
    set('peerPort', flagInt(args, 'peer-port', 4650));
  if (flagString(args, 'http-port') !== undefined) set('httpPort', flagInt(args, 'http-port', 80));
  if (flagString(args, 'https-port') !== undefined)
    set('httpsPort', flagInt(args, 'https-port', 443));
  return out;
}

/** Resolves a node's config for init/join and writes it as the data dir's agent.yml. */
function prepareNodeConfig(args: ParsedArgs) {
  const config = resolveConfig(
    { nodeName: hostname().split('.')[0] || 'node' },
    configFromEnv(process.env),
    nodeSettings(args),
  );
  const host = config.advertiseAddress ?? config.bindAddress;
  return {
    config,
    peerAddress: `${host}:${config.peerPort}`,
    apiAddress: `${host}:${config.apiPort}`,
  };
}

function saveAgentFile(config: ReturnType<typeof resolveConfig>): void {
  const keep = {
    nodeName: config.nodeName,
    dataDir: config.dataDir,
    bindAddress: config.bindAddress,
    ...(config.advertiseAddress ? { advertiseAddress: config.advertiseAddress } : {}),
    apiPort: config.apiPort,
    peerPort: config.peerPort,
    httpPort: config.httpPort,
    httpsPort: config.httpsPort,
    acme: config.acme,
  };
  writeFileAtomic(join(config.dataDir, agentFileName), `${JSON.stringify(keep, null, 2)}\n`, 0o644);
}

async function runInit(args: ParsedArgs, out: Output): Promise<number> {
  const { config, peerAddress, apiAddress } = prepareNodeConfig(args);
  const clusterName = flagString(args, 'cluster') ?? 'berth';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(clusterName)) {
    throw new BerthError('usage', '--cluster must be lowercase letters, digits and dashes');
  }
  const result = await initCluster({
    dataDir: config.dataDir,
    clusterName,
    nodeName: config.nodeName,
    peerAddress,
    apiAddress,
  });
  saveAgentFile(config);
  const address = `https://${apiAddress}`;
  useContext(clusterName, {
    address,
    caPem: result.caPem,
    caFingerprint: result.caFingerprint,
    token: result.adminToken,
  });
  emit(
    out,
    {
      clusterName,
      nodeId: result.nodeId,
      address,
      caFingerprint: result.caFingerprint,
      adminToken: result.adminToken,
    },
    () =>
      [
        `${paint(out, 'green', 'created')} cluster "${clusterName}" in ${config.dataDir} (node 1, voter)`,
        `CA fingerprint: ${result.caFingerprint}`,
        `admin token:    ${result.adminToken}   (shown once; saved in CLI context "${clusterName}")`,
        '',
        'next:',
        `  berth agent --data-dir ${config.dataDir}                  # start this node`,
        '  berth node join-token --role voter                   # then, for each new node:',
        `  berth server join ${apiAddress} --token <token> --data-dir <dir> --api-port <p> --peer-port <p>`,
      ].join('\n'),
  );
  return exitCode.ok;
}

async function runJoin(args: ParsedArgs, out: Output): Promise<number> {
  const [address] = positionals(args, 'berth server join <address> --token TOKEN', ['address']);
  const token = flagString(args, 'token');
  if (!token)
    throw new BerthError(
      'usage',
      'pass the join token: --token berth-join-…  (make one with `berth node join-token`)',
    );
  const { config, peerAddress, apiAddress } = prepareNodeConfig(args);
  const answer = await joinCluster({
    address: address as string,
    token,
    dataDir: config.dataDir,
    nodeName: config.nodeName,
    peerAddress,
    apiAddress,
  });
  saveAgentFile(config);
  emit(out, { nodeId: answer.nodeId, role: answer.role, clusterName: answer.clusterName }, () =>
    [
      `${paint(out, 'green', 'joined')} cluster "${answer.clusterName}" as node ${answer.nodeId} (${answer.role})`,
      `start it: berth agent --data-dir ${config.dataDir}`,
    ].join('\n'),
  );
  return exitCode.ok;
}

/** Config for `berth agent`: agent.yml in the data dir < --config file < env < flags. */
function agentConfig(args: ParsedArgs) {
  const file = flagString(args, 'config');
  const fromFile = file ? parseConfigText(readFileSync(file, 'utf8'), file) : {};
  const flags = nodeSettings(args);
  const dataDir = (flags.dataDir ??
    fromFile.dataDir ??
    process.env.BERTH_DATA_DIR ??
    '/var/lib/berth') as string;
  const saved = join(dataDir, agentFileName);
  const base = existsSync(saved) ? parseConfigText(readFileSync(saved, 'utf8'), saved) : {};
  return resolveConfig(
    { nodeName: hostname().split('.')[0] || 'node' },
    base,
    fromFile,
    configFromEnv(process.env),
    flags,
  );
}

async function runAgent(args: ParsedArgs, out: Output): Promise<number> {
  const config = agentConfig(args);
  const agent = await Agent.start(config);
  out.err(
    `berth agent: node ${agent.identity.nodeId} (${agent.identity.nodeName}) serving ${agent.apiUrl}`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void agent.stop().then(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return exitCode.ok;
}

async function runJoinToken(args: ParsedArgs, out: Output): Promise<number> {
  const role = flagString(args, 'role') ?? 'worker';
  if (role !== 'voter' && role !== 'worker')
    throw new BerthError('usage', '--role must be voter or worker');
  const ttlSeconds = flagInt(args, 'ttl', 3600);
  const client = clientFor(args, out);
  const res = await client.request<{ token: string; expiresAtMs: number }>(
    '/v1/cluster/join-tokens',
    {
      method: 'POST',
      body: { role, ttlSeconds },
    },
  );
  const target = new URL(client.address).host;
  emit(out, res, () =>
    [
      res.token,
      '',
      `single use, ${role}, expires ${new Date(res.expiresAtMs).toISOString()}. On the new node run:`,
      `  berth server join ${target} --token ${res.token} --data-dir <dir>`,
    ].join('\n'),
  );
  return exitCode.ok;
}

export const serverCommands: Command[] = [
  {
    path: ['server', 'init'],
    summary: 'create a new cluster in a data directory (this node becomes node 1)',
    usage:
      'berth server init [--cluster NAME] [--data-dir D] [--name N] [--bind ADDR] [--api-port P] [--peer-port P]',
    flags: [...nodeFlags, { name: 'cluster', help: 'cluster name (default berth)' }],
    run: runInit,
  },
  {
    path: ['server', 'join'],
    summary: 'join an existing cluster with a join token',
    usage:
      'berth server join <address> --token TOKEN [--data-dir D] [--name N] [--api-port P] [--peer-port P]',
    flags: nodeFlags,
    run: runJoin,
  },
  {
    path: ['agent'],
    summary: 'run this node (Raft, state, API) until SIGTERM',
    usage:
      'berth agent [--data-dir D] [--config FILE] [--bind ADDR] [--api-port P] [--peer-port P]',
    flags: [
      ...nodeFlags,
      { name: 'config', short: 'c', help: 'YAML/JSON agent configuration file' },
    ],
    run: runAgent,
  },
  {
    path: ['node', 'join-token'],
    summary: 'mint a single-use join token (admin)',
    usage: 'berth node join-token [--role voter|worker] [--ttl SECONDS]',
    flags: [
      { name: 'role', help: 'voter (may be promoted to the control plane) or worker (default)' },
      { name: 'ttl', help: 'lifetime in seconds (default 3600, at most 86400)' },
    ],
    run: runJoinToken,
  },
];
