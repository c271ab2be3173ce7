/** Every CLI command, in the order `berth --help` lists them. */
import type { Command } from '../registry.ts';
import { contextCommands } from './context.ts';

export function allCommands(): Command[] {
  return [...contextCommands];
}
