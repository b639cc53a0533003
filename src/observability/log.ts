/**
 * Structured logs: one JSON object per line on stderr,
 * `{"ts":"2026-08-01T12:00:00.000Z","level":"info","msg":"…",…fields}`.
 *
 * JSON lines because log shippers (Loki, Vector, journald → anything) parse them without a
 * per-project grammar, and because fields stay machine-readable (`tenant`, `endpoint`,
 * `duration_ms`) instead of being interpolated into the message.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(["debug", "info", "warn", "error"]);

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (after the parent's own fields). */
  child(fields: LogFields): Logger;
  /** Cheap guard for callers that would build expensive fields for a dropped line. */
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  /** Lines below this level are dropped. Default "info". */
  level?: LogLevel;
  /** Fields added to every line. */
  fields?: LogFields;
  /** Where a finished line (without the trailing newline) goes. Default: stderr. */
  write?: (line: string) => void;
}

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys owned by the line envelope; a field with the same name is renamed to `field.<key>`. */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(["ts", "level", "msg"]);

/**
 * A single field value longer than this is cut, so one huge label value or error message
 * cannot turn a log line into megabytes (log shippers commonly cap lines at 256 KiB).
 */
const FIELD_STRING_LENGTH_MAX = 16_384;

export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(LEVEL_RANK, value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  if (!isLogLevel(level)) throw new Error(`unknown log level "${String(level)}"`);
  const write = options.write ?? writeStderr;
  return makeLogger(level, options.fields ?? {}, write);
}

function makeLogger(level: LogLevel, base: LogFields, write: (line: string) => void): Logger {
  const minRank = LEVEL_RANK[level];
  const emit = (lineLevel: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[lineLevel] < minRank) return;
    write(formatLine(new Date(), lineLevel, msg, base, fields));
  };
  return {
    level,
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => makeLogger(level, { ...base, ...fields }, write),
    isEnabled: (lineLevel) => LEVEL_RANK[lineLevel] >= minRank,
  };
}

/** Exported for tests: the exact line format. */
export function formatLine(
  ts: Date,
  level: LogLevel,
  msg: string,
  base: LogFields,
  fields: LogFields | undefined,
): string {
  const line: Record<string, unknown> = { ts: ts.toISOString(), level, msg };
  for (const source of fields === undefined ? [base] : [base, fields]) {
    for (const [key, value] of Object.entries(source)) {
      if (value === undefined) continue;
      line[ENVELOPE_KEYS.has(key) ? `field.${key}` : key] = value;
    }
  }
  try {
    return JSON.stringify(line, replaceValue);
  } catch (err) {
    // A circular structure in a field must not lose the line itself.
    return JSON.stringify({
      ts: line.ts,
      level,
      msg,
      log_error: `fields not serializable: ${(err as Error).message}`,
    });
  }
}

function replaceValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string" && value.length > FIELD_STRING_LENGTH_MAX) {
    return `${value.slice(0, FIELD_STRING_LENGTH_MAX)}…(${value.length} chars)`;
  }
  if (value instanceof Error) return serializeError(value);
  return value;
}

/** Errors have no enumerable own properties, so JSON.stringify would print `{}`. */
function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const extra = err as Error & { code?: unknown; reason?: unknown };
  if (extra.code !== undefined) out.code = extra.code;
  if (extra.reason !== undefined) out.reason = extra.reason;
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined) out.cause = err.cause instanceof Error ? serializeError(err.cause) : err.cause;
  return out;
}

function writeStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}
