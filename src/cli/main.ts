#!/usr/bin/env bun
/**
 * `berth`: the command-line client. It speaks only the HTTP API, except `berth agent`,
 * `berth server init` and `berth server join`, which run or create a node.
 */
import { BerthError } from '../core/errors.ts';
import { parseArgs, suggest } from './args.ts';
import { allCommands } from './commands/index.ts';
import { type CliIo, createOutput, type Output, paint, table } from './output.ts';
import { type Command, exitCode, matchCommand } from './registry.ts';

function helpText(commands: readonly Command[]): string {
  const rows = commands.map((c) => [`berth ${c.path.join(' ')}`, c.summary]);
  return [
    'berth — run services on a cluster with one spec and one command',
    '',
    table(['command', 'what it does'], rows),
    '',
    'Global flags: --json, --context NAME, --address URL, --token TOKEN, --help',
    'Run `berth <command> --help` for a command’s flags.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const flags = c.flags.map((f) => [`--${f.name}${f.short ? `, -${f.short}` : ''}`, f.help]);
  return [
    `usage: ${c.usage}`,
    '',
    c.summary,
    ...(flags.length ? ['', table(['flag', 'meaning'], flags)] : []),
  ].join('\n');
}

/** What to do next, by error code: every error says how to recover. */
function nextStep(code: string): string | undefined {
  const steps: Record<string, string> = {
    unauthenticated: 'pass --token, set BERTH_TOKEN, or save a context with a token',
    forbidden: 'this token’s role may not do that; use an admin or deploy token',
    no_leader:
      'the cluster has no leader right now; retry in a few seconds and check `berth status`',
    unreachable: 'start the agent (`berth agent`) or check the address with `berth context ls`',
    no_context: 'run `make demo` or `berth context use NAME --address URL --token TOKEN`',
    not_leader: 'an election is running; retry in a few seconds and check `berth status`',
    proposal_dropped: 'the leader is overloaded; retry in a moment',
    timeout: 'check the outcome (e.g. `berth status`, `berth job ls`) before retrying',
    job_not_found: 'list jobs with `berth job ls`',
    secret_not_found: 'list secrets with `berth secret ls`',
    token_not_found: 'list tokens with `berth token ls`',
    peer_not_found: 'list Raft peers and their ids with `berth raft peers`',
    already_leader: 'nothing to do; pick another peer from `berth raft peers` to move leadership',
    events_compacted: 'resume from a later index (`berth events --index N`) or omit --index',
    too_many_streams: 'the server has too many event streams open; retry in a few seconds',
    dotenv_invalid: 'fix the lines listed above and run the import again',
    not_implemented: 'this command is not available on this version of Berth yet',
    stream_ended: 'run `berth events --index N` with the index above to resume',
    file_unreadable: 'check the file path and its permissions',
    bad_context_file: 'fix or delete the contexts file, then `berth context use …` again',
  };
  return steps[code];
}

/** The usage error for argv that names no command: a close match, or the group's verbs. */
function unknownCommand(commands: readonly Command[], argv: readonly string[]): BerthError {
  const words = [...new Set(commands.map((c) => c.path.join(' ')))];
  const hint = suggest(argv.slice(0, 2).join(' '), words) ?? suggest(argv[0] as string, words);
  if (hint) {
    return new BerthError(
      'usage',
      `unknown command "${argv.join(' ')}" (did you mean \`berth ${hint}\`?); see \`berth --help\``,
    );
  }
  const verbs = commands.filter((c) => c.path[0] === argv[0] && c.path.length > 1);
  if (verbs.length > 0) {
    const list = verbs.map((c) => c.path.slice(1).join(' ')).join(', ');
    return new BerthError('usage', `\`berth ${argv[0]}\` needs a subcommand: ${list}`);
  }
  return new BerthError('usage', `unknown command "${argv.join(' ')}"; see \`berth --help\``);
}

/** Exit status for an error; scripts rely on these (see registry.ts). */
function exitFor(error: BerthError): number {
  if (error.code === 'usage') return exitCode.usage;
  if (error.code === 'unreachable') return exitCode.unreachable;
  if (error.code === 'unauthenticated' || error.code === 'forbidden') return exitCode.auth;
  return exitCode.failed;
}

function report(out: Output, error: unknown): number {
  if (error instanceof BerthError) {
    if (out.json) {
      out.err(JSON.stringify({ error: { code: error.code, message: error.message } }));
    } else {
      out.err(`${paint(out, 'red', 'error')}: ${error.message} [${error.code}]`);
      const step = nextStep(error.code);
      if (step) out.err(`  next: ${step}`);
    }
    return exitFor(error);
  }
  out.err(`internal error: ${(error as Error)?.stack ?? String(error)}`);
  return exitCode.failed;
}

/**
 * Runs one CLI invocation and resolves with its exit status. `io` replaces the process's
 * streams (tests capture output in-process) and carries the interrupt signal.
 */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const out = createOutput(argv.includes('--json'), io);
  const commands = allCommands();
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    out.out(helpText(commands));
    return argv.length === 0 ? exitCode.usage : exitCode.ok;
  }
  const match = matchCommand(commands, argv);
  if (!match) {
    return report(out, unknownCommand(commands, argv));
  }
  try {
    const args = parseArgs(match.rest, match.command.flags);
    if (args.flags.help) {
      out.out(commandHelp(match.command));
      return exitCode.ok;
    }
    return await match.command.run(args, out);
  } catch (error) {
    return report(out, error);
  }
}

/**
 * The first Ctrl-C aborts the signal so a following command (`berth events`) ends cleanly;
 * a second one exits at once, in case a command is stuck.
 */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.on('SIGINT', () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  });
  return controller.signal;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), { signal: interruptSignal() });
}
