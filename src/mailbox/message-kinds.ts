/**
 * The registry of message kinds (DESIGN.md §2, STYLE.md rule 3). Every message type is
 * declared either `replicated` — it travels through the committed log, so it has a zod
 * schema and a numeric log tag — or `local` — ticks, Docker events, probe results, peer
 * RPCs — which must never enter the log.
 *
 * Log tags are append-only: a new replicated type takes a new tag and a tag is never
 * reused, even after its type is retired. A retired type can still be read back from old
 * entries but can no longer be appended. The log stores the tag next to the type name so
 * a reader detects a reused tag instead of silently decoding one type as another.
 */
import { z } from 'zod';
import { AssertionError, assert } from '../core/assert.ts';
import { BerthError } from '../core/errors.ts';

/** A type that travels through the committed log. */
export interface ReplicatedKind<S extends z.ZodType = z.ZodType> {
  delivery: 'replicated';
  /** Positive integer, unique in the registry, never reused. */
  tag: number;
  schema: S;
  /** True once the type may no longer be appended; old entries still decode. */
  retired: boolean;
}

/** A type that is delivered in-process only and must never enter the log. */
export interface LocalKind {
  delivery: 'local';
}

export type MessageKind = ReplicatedKind | LocalKind;

export type KindDefinitions = Record<string, MessageKind>;

/** Declares a replicated type with its log tag and payload schema. */
export function replicated<S extends z.ZodType>(
  tag: number,
  schema: S,
  options: { retired?: boolean } = {},
): ReplicatedKind<S> {
  return { delivery: 'replicated', tag, schema, retired: options.retired ?? false };
}

/** Declares a local type. */
export function local(): LocalKind {
  return { delivery: 'local' };
}

/** Names of the replicated types in a set of definitions. */
export type ReplicatedTypeOf<D extends KindDefinitions> = {
  [K in keyof D & string]: D[K] extends ReplicatedKind ? K : never;
}[keyof D & string];

/** The definitions behind a registry: `DefinitionsOf<typeof kinds>`. */
export type DefinitionsOf<M> = M extends MessageKinds<infer D> ? D : never;

/** Payload type of a replicated message type. */
export type PayloadOf<D extends KindDefinitions, T extends keyof D> =
  D[T] extends ReplicatedKind<infer S> ? z.output<S> : never;

/** A committed entry whose payload has been parsed against its type's schema. */
export type TypedEntry<
  D extends KindDefinitions,
  T extends ReplicatedTypeOf<D> = ReplicatedTypeOf<D>,
> = {
  [K in T]: { index: number; term: number; type: K; data: PayloadOf<D, K> };
}[T];

/** Outcome of parsing a payload: the validated value, or an operating error. */
export type ParseResult = { ok: true; data: unknown } | { ok: false; error: BerthError };

/** A closed set of message kinds, built once at start-up by `defineMessageKinds`. */
export class MessageKinds<D extends KindDefinitions = KindDefinitions> {
  readonly #defs: D;
  readonly #typeByTag = new Map<number, string>();

  constructor(defs: D) {
    this.#defs = defs;
    for (const [type, kind] of Object.entries(defs)) {
      assert(type.length > 0, 'message type names are non-empty');
      if (kind.delivery === 'local') continue;
      assert(
        Number.isSafeInteger(kind.tag) && kind.tag > 0,
        `tag of ${type} must be a positive integer`,
      );
      const clash = this.#typeByTag.get(kind.tag);
      assert(clash === undefined, `log tag ${kind.tag} is used by both ${clash} and ${type}`);
      this.#typeByTag.set(kind.tag, type);
    }
  }

  /** The kind declared for `type`, or undefined when it is not registered. */
  kindOf(type: string): MessageKind | undefined {
    return Object.hasOwn(this.#defs, type) ? this.#defs[type] : undefined;
  }

  /** The replicated type registered under `tag`, or undefined. */
  typeOfTag(tag: number): string | undefined {
    return this.#typeByTag.get(tag);
  }

  /**
   * The kind of a type about to be appended to the log. A local type here is a bug in
   * the caller (AssertionError); an unknown or retired type is an operating error.
   */
  requireAppendable(type: string): ReplicatedKind {
    const kind = this.requireReplicated(type);
    if (kind.retired) {
      throw new BerthError('message_type_retired', `message type ${type} is retired`, { type });
    }
    return kind;
  }

  /**
   * The kind of a replicated type, as the log or a consumer needs it. Asserts that a local
   * type never reaches the log; throws `unknown_message_type` for an unregistered one.
   */
  requireReplicated(type: string): ReplicatedKind {
    const kind = this.kindOf(type);
    if (kind === undefined) {
      throw new BerthError('unknown_message_type', `message type ${type} is not registered`, {
        type,
      });
    }
    if (kind.delivery === 'local') {
      throw new AssertionError(`local message type ${type} must never enter the log`);
    }
    return kind;
  }

  /** Validates `data` against the schema of replicated `type`. */
  parse(type: string, data: unknown): ParseResult {
    const kind = this.requireReplicated(type);
    const result = kind.schema.safeParse(data);
    if (result.success) return { ok: true, data: result.data };
    const message = `invalid ${type} payload: ${z.prettifyError(result.error)}`;
    const issues = result.error.issues.map((i) => ({
      path: i.path.map(String),
      message: i.message,
    }));
    return { ok: false, error: new BerthError('invalid_message', message, { type, issues }) };
  }
}

/** Builds the registry; asserts that every replicated tag is a unique positive integer. */
export function defineMessageKinds<D extends KindDefinitions>(defs: D): MessageKinds<D> {
  return new MessageKinds(defs);
}
