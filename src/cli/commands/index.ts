/** Every CLI command, in the order `berth --help` lists them. */
import type { Command } from '../registry.ts';
import { certCommands } from './cert.ts';
import { contextCommands } from './context.ts';
import { deployCommands } from './deploy.ts';
import { eventCommands } from './events.ts';
import { jobCommands } from './job.ts';
import { logCommands } from './logs.ts';
import { maintenanceCommands } from './maintenance.ts';
import { nodeCommands } from './node.ts';
import { promoteCommands } from './promote.ts';
import { raftCommands } from './raft.ts';
import { secretCommands } from './secret.ts';
import { serverCommands } from './server.ts';
import { statusCommands } from './status.ts';
import { tokenCommands } from './token.ts';

export function allCommands(): Command[] {
  return [
    ...serverCommands,
    ...statusCommands,
    ...nodeCommands,
    ...deployCommands,
    ...promoteCommands,
    ...maintenanceCommands,
    ...jobCommands,
    ...logCommands,
    ...secretCommands,
    ...certCommands,
    ...tokenCommands,
    ...raftCommands,
    ...eventCommands,
    ...contextCommands,
  ];
}
