/**
 * One log record (pino's JSON object) as one line of text a person reads:
 *
 *   <4>ann@hotmail.com pop3: POP3 sync failed: the provider is busy (retry in 2m) stored=0
 *
 * For journald and for logs with no terminal the line starts with its syslog priority in angle brackets
 * (sd-daemon(3): "<3>" error, "<4>" warning, "<6>" info, "<7>" debug), which journald takes as the priority
 * and strips, so `journalctl -p err` shows the errors. On a terminal the same line gets a time and a
 * coloured level name instead. The record's fields follow the message as `key=value`, each key once; an
 * error shows its message (and code), its stack only when the logger runs at debug or trace.
 */

/** pino's numeric levels (pino.levels.values). */
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** syslog(3) priorities as sd-daemon(3) prefixes: 2 crit, 3 err, 4 warning, 6 info, 7 debug. */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/** Fields that are shown in the line's prefix, or not at all. */
const PREFIX_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'account', 'part', 'component', 'v']);

export interface LineStyle {
  /** `journal`: the `<N>` prefix, no time (journald stamps it); `text`: `<N>` and an ISO time; `pretty`: time and a coloured level. */
  kind: 'journal' | 'text' | 'pretty';
  /** Whether stacks of logged errors are shown (logger at debug or trace). */
  stacks: boolean;
  colour?: boolean;
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  stack?: unknown;
  type?: unknown;
}

/** A value as it reads in `key=value`: strings as they are (quoted when they hold spaces), the rest as JSON. */
function valueText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  if (value instanceof Array && value.every((entry) => typeof entry === 'string' || typeof entry === 'number')) return value.join(',');
  return JSON.stringify(value);
}

/** Text with every line break folded, so one record is one line. */
function oneLine(text: string): string {
  return text.replace(/\r?\n\s*/g, ' / ');
}

/** "a: b" unless `b` already appears in `a` (no "self-signed certificate: self-signed certificate"). */
export function joinReason(text: string, reason: string | undefined): string {
  if (!reason) return text;
  const bare = reason.trim();
  if (bare === '' || text.includes(bare)) return text;
  return `${text}: ${bare}`;
}

function errorText(err: ErrorLike, msg: string, style: LineStyle): string | undefined {
  const message = typeof err.message === 'string' ? err.message : undefined;
  const code = typeof err.code === 'string' ? err.code : undefined;
  let text = message !== undefined && !msg.includes(message) ? message : '';
  if (code !== undefined && !msg.includes(code) && !text.includes(code)) text = text === '' ? code : `${text} (${code})`;
  if (style.stacks && typeof err.stack === 'string') {
    const frames = err.stack
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .join(' ');
    if (frames !== '') text = `${text}${text === '' ? '' : ' '}[${frames}]`;
  }
  return text === '' ? undefined : text;
}

const COLOURS: Record<string, string> = { TRACE: '90', DEBUG: '36', INFO: '32', WARN: '33', ERROR: '31', FATAL: '35' };

/** Formats one pino record (already parsed) as one line, newline included. */
export function formatRecord(record: Record<string, unknown>, style: LineStyle): string {
  const level = typeof record.level === 'number' ? record.level : 30;
  const msg = typeof record.msg === 'string' ? oneLine(record.msg) : '';
  const who = [record.account, record.part ?? record.component].filter(
    (entry): entry is string => typeof entry === 'string' && entry !== '',
  );
  let line = who.length > 0 ? `${who.join(' ')}: ${msg}` : msg;
  for (const [key, value] of Object.entries(record)) {
    if (PREFIX_KEYS.has(key) || value === undefined || value === null) continue;
    if (key === 'err' && typeof value === 'object') {
      const text = errorText(value as ErrorLike, line, style);
      if (text !== undefined) line += ` err=${JSON.stringify(oneLine(text))}`;
      continue;
    }
    line += ` ${key}=${oneLine(valueText(value))}`;
  }
  if (style.kind === 'pretty') {
    const name = LEVEL_NAMES[level] ?? String(level);
    const time = new Date(typeof record.time === 'string' || typeof record.time === 'number' ? record.time : Date.now());
    const clock = time.toTimeString().slice(0, 8);
    const label = style.colour ? `\u001b[${COLOURS[name] ?? '0'}m${name.padEnd(5)}\u001b[0m` : name.padEnd(5);
    return `${clock} ${label} ${line}\n`;
  }
  const prefix = `<${syslogPriority(level)}>`;
  if (style.kind === 'journal') return `${prefix}${line}\n`;
  const stamp =
    typeof record.time === 'string' ? record.time : new Date(typeof record.time === 'number' ? record.time : Date.now()).toISOString();
  return `${prefix}${stamp} ${line}\n`;
}
