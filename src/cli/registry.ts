/**
 * The CLI's command table. Verbs read like Docker's (`berth node ls`); each command
 * declares its flags and help, and runs with parsed arguments and an output.
 */
import type { FlagSpec, ParsedArgs } from './args.ts';
import type { Output } from './output.ts';

export interface Command {
  /** Words that select it, e.g. ['node', 'ls']. */
  path: string[];
  /** Other spellings, e.g. [['node', 'list']]. */
  aliases?: string[][];
  summary: string;
  usage: string;
  flags: FlagSpec[];
  run(args: ParsedArgs, out: Output): Promise<number>;
}

/** Exit codes, documented in the README: scripts rely on them. */
export const exitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
} as const;

/** Finds the longest command path that prefixes argv. */
export function matchCommand(
  commands: readonly Command[],
  argv: readonly string[],
): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[]; length: number } | undefined;
  for (const command of commands) {
    for (const path of [command.path, ...(command.aliases ?? [])]) {
      const matches = path.every((word, i) => argv[i] === word);
      if (matches && (!best || path.length > best.length)) {
        best = { command, rest: argv.slice(path.length), length: path.length };
      }
    }
  }
  return best && { command: best.command, rest: best.rest };
}
