/**
 * Structured logging: one JSON object per line on stderr, key/value fields (`node`,
 * `term`, `actor`, `job`, `alloc`). Quiet by default: only warnings and errors print
 * unless BERTH_LOG=debug|info. Never log secrets; `redact` fields hold them out.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const levelRank: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /** True when lines at `level` are written (hot paths skip building fields otherwise). */
  enabled(level: LogLevel): boolean;
}

export type LogSink = (line: string) => void;

function parseLevel(raw: string | undefined): LogLevel {
  if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error' || raw === 'silent') {
    return raw;
  }
  return 'warn';
}

/** Creates a logger. `level` defaults to BERTH_LOG, else `warn`. */
export function createLogger(
  options: { level?: LogLevel; sink?: LogSink; fields?: LogFields; nowMs?: () => number } = {},
): Logger {
  const level = options.level ?? parseLevel(process.env.BERTH_LOG);
  const sink = options.sink ?? ((line: string) => process.stderr.write(`${line}\n`));
  const base = options.fields ?? {};
  const now = options.nowMs ?? (() => Date.now());
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (levelRank[lvl] < levelRank[level]) return;
    sink(JSON.stringify({ ts: now(), level: lvl, msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level, sink, nowMs: now, fields: { ...base, ...fields } }),
    enabled: (lvl) => levelRank[lvl] >= levelRank[level],
  };
}

/** A logger that drops everything (tests, simulation). */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: () => {} });
