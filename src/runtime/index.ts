/**
 * The actor runtime's public surface: an actor system with bounded mailboxes,
 * one-message-at-a-time handling, `ask` with a mandatory timeout, and one-for-one
 * supervision with restart intensity (DESIGN.md §1, §3; STYLE.md rules 7, 8, 13).
 */
export { ActorSystem, type ActorSystemOptions, type ActorSystemStatus } from './actor-system.ts';
export { AskTimeoutError, RestartIntensityError } from './errors.ts';
export { Mailbox } from './mailbox.ts';
export type {
  ActorContext,
  ActorDefinition,
  ActorRef,
  AskOptions,
  Recipient,
  RestartPolicy,
  SpawnOptions,
  StopReason,
  SupervisorDefinition,
  SupervisorRef,
  TellRefusal,
  TellResult,
} from './types.ts';
