/** `berth context ls|use|show`: saved clusters (address, CA fingerprint, token). */
import { BerthError } from '../../core/errors.ts';
import { flagString } from '../args.ts';
import { loadContexts, resolveContext, useContext } from '../context.ts';
import { emit, table } from '../output.ts';
import type { Command } from '../registry.ts';
import { exitCode } from '../registry.ts';

export const contextCommands: Command[] = [
  {
    path: ['context', 'ls'],
    aliases: [['context', 'list']],
    summary: 'list saved cluster contexts',
    usage: 'berth context ls [--json]',
    flags: [],
    async run(_args, out) {
      const file = loadContexts();
      const rows = Object.entries(file.contexts).map(([name, c]) => ({
        name,
        current: name === file.current,
        address: c.address,
        caFingerprint: c.caFingerprint ?? null,
        hasToken: Boolean(c.token),
      }));
      emit(out, rows, () =>
        table(
          ['', 'name', 'address', 'ca fingerprint'],
          rows.map((r) => [
            r.current ? '*' : ' ',
            r.name,
            r.address,
            r.caFingerprint?.slice(0, 23),
          ]),
        ),
      );
      return exitCode.ok;
    },
  },
  {
    path: ['context', 'use'],
    summary: 'save a cluster context and make it current',
    usage: 'berth context use NAME [--address URL --token TOKEN --ca-file PEM]',
    flags: [{ name: 'ca-file', help: 'path of the cluster CA certificate (PEM)' }],
    async run(args, out) {
      const name = args.positionals[0];
      if (!name) throw new BerthError('usage', 'name the context: berth context use NAME');
      const file = loadContexts();
      const existing = file.contexts[name];
      const address = flagString(args, 'address') ?? existing?.address;
      if (!address) throw new BerthError('usage', `context "${name}" is new: pass --address URL`);
      const caFile = flagString(args, 'ca-file');
      const caPem = caFile ? await Bun.file(caFile).text() : existing?.caPem;
      useContext(name, {
        address,
        caPem,
        caFingerprint: existing?.caFingerprint,
        token: flagString(args, 'token') ?? existing?.token,
      });
      emit(out, { current: name }, () => `current context: ${name} (${address})`);
      return exitCode.ok;
    },
  },
  {
    path: ['context', 'show'],
    summary: 'show the context commands will use',
    usage: 'berth context show [--json]',
    flags: [],
    async run(args, out) {
      const c = resolveContext({
        context: flagString(args, 'context'),
        address: flagString(args, 'address'),
        token: flagString(args, 'token'),
      });
      const view = {
        address: c.address,
        caFingerprint: c.caFingerprint ?? null,
        hasToken: Boolean(c.token),
      };
      emit(
        out,
        view,
        () =>
          `address: ${view.address}\nca: ${view.caFingerprint ?? '-'}\ntoken: ${view.hasToken ? 'set' : 'none'}`,
      );
      return exitCode.ok;
    },
  },
];
