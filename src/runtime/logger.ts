/**
 * The logger: pino JSON to stdout (journald and launchd keep it), human-readable when stdout is a
 * terminal. Every path that can hold a secret is redacted, so a password or token never reaches a log.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Keys that may hold secrets anywhere in a logged object (pino redact paths, one and two levels deep). */
const SECRET_KEYS = ['password', 'pass', 'secret', 'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'authorization', 'auth.pass', 'auth.accessToken', 'credentials', 'payload', 'device_code', 'client_secret'];

export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`), ...SECRET_KEYS.map((key) => `*.*.${key}`)];

export interface LoggerOptions {
  level?: string;
  /** Force pretty or JSON output; by default pretty only when stdout is a terminal. */
  pretty?: boolean;
  /** Write somewhere other than stdout (tests). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const base = {
    level: options.level ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } });
  }
  return pino(base, (options.destination as pino.DestinationStream | undefined) ?? pino.destination({ fd: 1, sync: false }));
}

/** A logger that drops everything (tests, one-shot CLI commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
