/** `berth token create|ls|revoke` (admin): API tokens. The plaintext is shown once, at creation. */
import { BerthError } from '../../core/errors.ts';
import { flagString, type ParsedArgs } from '../args.ts';
import { ago, emit, paint, table } from '../output.ts';
import { type Command, exitCode } from '../registry.ts';
import { clientFor, itemsOf, positionals, segment } from './shared.ts';

const roleNames = ['admin', 'deploy', 'read-only'] as const;

interface TokenView {
  id: string;
  name: string;
  role: string;
  createdAtMs: number;
}

interface CreatedToken {
  index: number;
  id: string;
  name: string;
  role: string;
  token: string;
}

/** A string flag the command cannot do without, or a `usage` error naming it. */
function requiredFlag(args: ParsedArgs, name: string, usage: string): string {
  const value = flagString(args, name);
  if (value === undefined) throw new BerthError('usage', `missing --${name}; usage: ${usage}`);
  return value;
}

export const tokenCommands: Command[] = [
  {
    path: ['token', 'create'],
    summary: 'create an API token (admin); prints it once',
    usage: 'berth token create --name NAME --role admin|deploy|read-only [--json]',
    flags: [
      { name: 'name', help: 'who or what the token is for (e.g. "ci")' },
      { name: 'role', help: 'admin, deploy or read-only' },
    ],
    async run(args, out) {
      positionals(args, this.usage, []);
      const name = requiredFlag(args, 'name', this.usage);
      const role = requiredFlag(args, 'role', this.usage);
      if (!(roleNames as readonly string[]).includes(role)) {
        throw new BerthError(
          'usage',
          `--role must be one of ${roleNames.join(', ')}, got "${role}"`,
        );
      }
      const created = await clientFor(args, out).request<CreatedToken>('/v1/tokens', {
        method: 'POST',
        body: { name, role },
      });
      emit(out, created, () =>
        [
          `created ${created.role} token ${created.id} (${created.name}):`,
          '',
          `  ${created.token}`,
          '',
          paint(out, 'yellow', 'Store it now: it is shown only this once and cannot be read back.'),
        ].join('\n'),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['token', 'ls'],
    aliases: [['token', 'list']],
    summary: 'list API tokens (admin); never their values',
    usage: 'berth token ls [--json]',
    flags: [],
    async run(args, out) {
      positionals(args, this.usage, []);
      const tokens = itemsOf<TokenView>(await clientFor(args, out).request('/v1/tokens'), 'token');
      emit(out, tokens, () =>
        table(
          ['id', 'name', 'role', 'created'],
          tokens.map((t) => [t.id, t.name, t.role, ago(t.createdAtMs)]),
        ),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['token', 'revoke'],
    aliases: [['token', 'rm']],
    summary: 'revoke an API token (admin) by its id',
    usage: 'berth token revoke ID',
    flags: [],
    async run(args, out) {
      const [id] = positionals(args, this.usage, ['ID']) as [string];
      const body = await clientFor(args, out).request<{ index: number; id: string }>(
        `/v1/tokens/${segment(id)}`,
        { method: 'DELETE' },
      );
      emit(out, body, () => `token ${id} revoked (log index ${body.index})`);
      return exitCode.ok;
    },
  },
];
