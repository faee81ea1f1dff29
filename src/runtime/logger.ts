/**
 * The logger: pino underneath, written in the form the place it goes to wants.
 *
 * - Under systemd (`JOURNAL_STREAM` is set) or with no terminal: one line of text per record, starting with
 *   its syslog priority (`<4>…`, sd-daemon(3)), so journald files it at the right priority and
 *   `journalctl -p err` shows the errors; a launchd log file gets the same lines, with an ISO time.
 * - On a terminal: the same line with a time and a coloured level.
 * - `--log-format json`: pino's JSON, one object per line, for log collectors.
 *
 * Every path that can hold a secret is redacted, so a password or token never reaches a log. Error stacks
 * are kept only at debug and trace: at the default level a person reads the message, not the frames.
 */
import { pino, type Logger } from 'pino';
import { formatRecord, joinReason, type LineStyle } from './log-line.js';

export type { Logger } from 'pino';

/** Keys that may hold secrets anywhere in a logged object (pino redact paths, one and two levels deep). */
const SECRET_KEYS = [
  'password',
  'pass',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'authorization',
  'auth.pass',
  'auth.accessToken',
  'credentials',
  'payload',
  'device_code',
  'client_secret',
];

export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`), ...SECRET_KEYS.map((key) => `*.*.${key}`)];

export const LOG_FORMATS = ['text', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level?: string;
  /** `text` (syslog-prefixed lines), `json` or `pretty`; by default chosen from where stdout goes. */
  format?: LogFormat;
  /** The older switch: true is `format: 'pretty'`, false `format: 'json'` (kept for callers that use it). */
  pretty?: boolean;
  /** Write somewhere other than stdout (tests). */
  destination?: NodeJS.WritableStream;
  /** The environment to decide the default format from (tests); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (tests); default process.stdout.isTTY. */
  terminal?: boolean;
}

/** The format when none is asked for: text for journald and files, pretty only on a terminal. */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env, terminal = process.stdout.isTTY === true): LogFormat {
  if (env.JOURNAL_STREAM) return 'text';
  return terminal ? 'pretty' : 'text';
}

const DEBUG_LEVELS = new Set(['debug', 'trace']);

/**
 * An error as it is logged: its type, code and message, with the messages of its causes added only where
 * they say something new (pino's own serializer appends every cause, giving "self-signed certificate:
 * self-signed certificate"); the stack only when `stacks`.
 */
function errorSerializer(stacks: boolean) {
  return (err: unknown): unknown => {
    if (!(err instanceof Error)) return err;
    let message = err.message;
    for (let cause = err.cause, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++)
      message = joinReason(message, cause.message);
    const out: Record<string, unknown> = { type: err.name, message };
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined) out.code = code;
    if (stacks && err.stack) out.stack = err.stack;
    return out;
  };
}

/** A destination that turns each JSON record pino writes into one line of text. */
function textDestination(
  target: NodeJS.WritableStream | pino.DestinationStream,
  style: LineStyle,
): pino.DestinationStream & { flush?: (cb?: (err?: Error) => void) => void } {
  return {
    write(chunk: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(chunk) as Record<string, unknown>;
      } catch {
        target.write(chunk);
        return;
      }
      target.write(formatRecord(record, style));
    },
    flush(cb?: (err?: Error) => void) {
      const flush = (target as { flush?: (cb?: (err?: Error) => void) => void }).flush;
      if (typeof flush === 'function') flush.call(target, cb);
      else cb?.();
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const stacks = DEBUG_LEVELS.has(level);
  const format =
    options.format ??
    (options.pretty === undefined ? undefined : options.pretty ? 'pretty' : 'json') ??
    defaultLogFormat(options.env, options.terminal ?? (options.destination ? false : process.stdout.isTTY === true));
  const base: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: errorSerializer(stacks) },
  };
  const target: NodeJS.WritableStream | pino.DestinationStream = options.destination ?? pino.destination({ fd: 1, sync: false });
  if (format === 'json') return pino(base, target as pino.DestinationStream);
  const env = options.env ?? process.env;
  const style: LineStyle =
    format === 'pretty'
      ? { kind: 'pretty', stacks, colour: !options.destination && !env.NO_COLOR }
      : { kind: env.JOURNAL_STREAM ? 'journal' : 'text', stacks };
  return pino(base, textDestination(target, style));
}

/** A logger that drops everything (tests, one-shot CLI commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
