/**
 * Logs go to stderr only: under stdio, stdout is the JSON-RPC channel.
 *
 * One JSON object per line in pino's shape (`{"level":30,"time":…,"name":"crm-mcp",…fields,"msg":"…"}`,
 * levels 10 trace to 60 fatal), so pino's tools (pino-pretty) read it. Not pino itself: loading and
 * setting it up (with its worker-thread transport and redaction compiler, none of which a stdio
 * server needs) was about 8 ms of every start-up.
 */
export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];
export const isLogLevel = (v: string): v is LogLevel => (LEVELS as readonly string[]).includes(v);

const VALUES: Record<Exclude<LogLevel, 'silent'>, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds these fields to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

// Belt and braces: secrets are never passed to the logger, but a field by one of these names is
// masked wherever it sits (a header object that slips in, a config with its token).
const SECRET_KEYS = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-token',
  'x-api-key',
  'cookie',
  'token',
  'apitoken',
  'api_token',
  'access_token',
  'password',
]);
export const REDACTED = '[redacted]';

const errorFields = (e: Error): Record<string, unknown> => ({ ...e, type: e.name, message: e.message, stack: e.stack });

/** JSON of a log record: secrets masked, errors spelled out, cycles and bigints harmless. */
export function serializeRecord(record: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(record, (key, value: unknown) => {
    if (key && SECRET_KEYS.has(key.toLowerCase()) && value !== undefined && value !== null) return REDACTED;
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) value = errorFields(value);
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  });
}

/** stderr, or what a test gives. A failed write is dropped: logging never takes the server down. */
export type LogWriter = (line: string) => void;

let stderrGuarded = false;
const toStderr: LogWriter = (line) => {
  if (!stderrGuarded) {
    stderrGuarded = true;
    // A closed stderr (EPIPE) must not surface as an uncaught exception that is then logged again.
    process.stderr.on('error', () => undefined);
  }
  process.stderr.write(line);
};

const noop: LogFn = () => undefined;

function build(threshold: number, bindings: Record<string, unknown>, write: LogWriter): Logger {
  const at = (level: number): LogFn =>
    level < threshold
      ? noop
      : (fields: object | string, msg?: string) => {
          const own = typeof fields === 'string' ? { msg: fields } : fields instanceof Error ? { err: fields, msg } : { ...fields, msg };
          try {
            write(`${serializeRecord({ level, time: Date.now(), ...bindings, ...own })}\n`);
          } catch {
            // dropped, as above
          }
        };
  return {
    trace: at(VALUES.trace),
    debug: at(VALUES.debug),
    info: at(VALUES.info),
    warn: at(VALUES.warn),
    error: at(VALUES.error),
    fatal: at(VALUES.fatal),
    child: (more) => build(threshold, { ...bindings, ...more }, write),
  };
}

export function createLogger(level: LogLevel, write: LogWriter = toStderr): Logger {
  return build(level === 'silent' ? Number.POSITIVE_INFINITY : VALUES[level], { name: 'crm-mcp' }, write);
}
