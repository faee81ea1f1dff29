/** Turns the daemon's status snapshot into the few lines a person wants to read. */
import { formatDuration } from '../config/units.js';
import type { LoopDelaySnapshot } from './event-loop-delay.js';

export interface StatusSnapshot {
  daemon: { pid: number; version: string; startedAt: string; dataDir: string; config: string };
  /** The store's health (absent from older daemons). */
  store?: { state: string; text?: string; since?: string };
  /** Rotating backups, when configured. */
  backup?: { lastAt?: string; lastFile?: string; lastError?: string; nextAt?: string; dir?: string };
  accounts: Array<{
    address: string;
    provider: string;
    auth: string;
    localPassword: boolean;
    pop3: Record<string, unknown>;
    outbox: Record<string, unknown> & { queued?: Array<Record<string, unknown>> };
  }>;
  listeners: {
    imap: { addresses: Array<{ host: string; port: number }>; connections: number; closedForBadCommands?: number };
    smtp: { addresses: Array<{ host: string; port: number }>; connections?: number } & Partial<Record<SmtpClosedReason, number>>;
    pop3?: { addresses: Array<{ host: string; port: number; tls?: string }>; connections?: number; sessions?: number };
  };
  localLogins?: { successes?: number; failures?: number; cacheHits?: number; dropped?: number };
  /** Absent from daemons older than issue 11. */
  eventLoop?: LoopDelaySnapshot;
}

type SmtpClosedReason = 'closedForErrors' | 'closedForLoginDeadline' | 'closedForSessionDeadline' | 'closedIdle' | 'closedForRoom';

/** How the SMTP line words each reason the server closed connections for. */
const SMTP_CLOSED: Array<[SmtpClosedReason, string]> = [
  ['closedForErrors', 'for errors'],
  ['closedForLoginDeadline', 'without login in time'],
  ['closedForRoom', 'to make room'],
  ['closedForSessionDeadline', 'at the session deadline'],
  ['closedIdle', 'idle'],
];

function smtpClosed(smtp: StatusSnapshot['listeners']['smtp']): string {
  const parts = SMTP_CLOSED.filter(([key]) => (smtp[key] ?? 0) > 0).map(([key, words]) => `${smtp[key]} ${words}`);
  return parts.length === 0 ? '' : `; closed since start: ${parts.join(', ')}`;
}

function when(value: unknown, now: number): string {
  if (typeof value !== 'string' && typeof value !== 'number') return 'never';
  const at = new Date(value).getTime();
  if (Number.isNaN(at)) return 'never';
  const delta = at - now;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

const hostPort = (a: { host: string; port: number }) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export function formatStatus(snapshot: StatusSnapshot, now = Date.now()): string {
  const lines: string[] = [];
  const { daemon, listeners } = snapshot;
  lines.push(`hotbridge ${daemon.version}, pid ${daemon.pid}, up ${when(daemon.startedAt, now).replace(' ago', '')}`);
  const badClosed = listeners.imap.closedForBadCommands
    ? `; ${listeners.imap.closedForBadCommands} closed after too many bad commands`
    : '';
  lines.push(
    `  IMAP: ${listeners.imap.addresses.map(hostPort).join(', ') || 'not listening'} (${listeners.imap.connections} connected${badClosed})`,
  );
  lines.push(
    `  SMTP: ${listeners.smtp.addresses.map(hostPort).join(', ') || 'not listening'} (${listeners.smtp.connections ?? 0} connected${smtpClosed(listeners.smtp)})`,
  );
  if (listeners.pop3) {
    const addresses = listeners.pop3.addresses.map((a) => `${hostPort(a)}${a.tls ? ' (TLS)' : ''}`).join(', ') || 'not listening';
    lines.push(`  POP3: ${addresses} (${listeners.pop3.connections ?? 0} connected, ${listeners.pop3.sessions ?? 0} sessions since start)`);
  }
  if (snapshot.eventLoop) {
    const { lastMinute, sinceStart } = snapshot.eventLoop;
    lines.push(
      `  event loop delay: p99 ${lastMinute.p99Ms} ms, max ${lastMinute.maxMs} ms in the last minute; max ${sinceStart.maxMs} ms since start`,
    );
  }
  if (snapshot.store && snapshot.store.state !== 'ok') {
    lines.push(
      `  ! store: ${snapshot.store.text ?? snapshot.store.state}${snapshot.store.since ? ` (since ${when(snapshot.store.since, now)})` : ''}`,
    );
  }
  if (snapshot.backup) {
    const b = snapshot.backup;
    lines.push(
      `  backups: last ${when(b.lastAt, now)}${b.lastError ? ` (the last try failed: ${b.lastError})` : ''}; next ${when(b.nextAt, now)}, in ${b.dir ?? '?'}`,
    );
  }
  const logins = snapshot.localLogins;
  if (logins && (logins.failures ?? 0) > 0) {
    lines.push(
      `  local logins since start: ${logins.successes ?? 0} accepted (${logins.cacheHits ?? 0} from the cache), ${logins.failures} refused`,
    );
  }
  for (const account of snapshot.accounts) {
    const pop3 = account.pop3;
    lines.push('');
    lines.push(`${account.address} (${account.provider}, ${account.auth})`);
    if (!account.localPassword) lines.push(`  ! no local password: run  hotbridge password ${account.address}`);
    let sync = `  sync: ${String(pop3.state ?? 'unknown')}`;
    const progress = pop3.progress as { done?: number; total?: number; rate?: number } | undefined;
    if (progress && progress.total)
      sync += `, ${progress.done ?? 0}/${progress.total} messages${progress.rate ? ` (${Math.round(progress.rate)}/s)` : ''}`;
    lines.push(sync);
    lines.push(`  last success: ${when(pop3.lastSuccessAt, now)}; next poll: ${when(pop3.nextPollAt, now)}`);
    if (pop3.lastError) lines.push(`  last error: ${String(pop3.lastError)}`);
    // Messages on the server a poll did not bring in, in plain words (upstream/pop3/fetch-problems.ts).
    const notices = Array.isArray(pop3.notices) ? pop3.notices.filter((notice): notice is string => typeof notice === 'string') : [];
    for (const notice of notices) lines.push(`  ! ${notice}`);
    const queued = account.outbox.queued ?? [];
    lines.push(`  outbox: ${queued.length === 0 ? 'empty' : `${queued.length} waiting`}`);
    for (const entry of queued) {
      const pending = Array.isArray(entry.pending) ? (entry.pending as string[]).join(', ') : '';
      lines.push(
        `    to ${pending}: ${String(entry.attempts ?? 0)} attempts, next ${when(entry.nextAttemptAt, now)}${entry.lastError ? `, last error: ${String(entry.lastError)}` : ''}`,
      );
    }
    if (account.outbox.lastError && queued.length === 0) lines.push(`  outbox last error: ${String(account.outbox.lastError)}`);
  }
  return `${lines.join('\n')}\n`;
}
