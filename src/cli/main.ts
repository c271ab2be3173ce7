#!/usr/bin/env bun
/**
 * `berth`: the command-line client. It speaks only the HTTP API, except `berth agent`,
 * `berth server init` and `berth server join`, which run or create a node.
 */
import { BerthError } from '../core/errors.ts';
import { parseArgs, suggest } from './args.ts';
import { allCommands } from './commands/index.ts';
import { createOutput, type Output, paint, table } from './output.ts';
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
  };
  return steps[code];
}

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

export async function main(argv: readonly string[]): Promise<number> {
  const out = createOutput(argv.includes('--json'));
  const commands = allCommands();
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    out.out(helpText(commands));
    return argv.length === 0 ? exitCode.usage : exitCode.ok;
  }
  const match = matchCommand(commands, argv);
  if (!match) {
    const words = [...new Set(commands.map((c) => c.path.join(' ')))];
    const hint = suggest(argv.slice(0, 2).join(' '), words) ?? suggest(argv[0] as string, words);
    return report(
      out,
      new BerthError(
        'usage',
        `unknown command "${argv.join(' ')}"${hint ? ` (did you mean \`berth ${hint}\`?)` : ''}; see \`berth --help\``,
      ),
    );
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

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
