/**
 * The status web page and Prometheus metrics, served when `[status] listen` is set (for example
 * `listen = ["127.0.0.1:8025"]`):
 *   GET /         a small HTML page, the same lines as `hotbridge status`
 *   GET /status   the snapshot as JSON (what `hotbridge status --json` prints)
 *   GET /metrics  Prometheus text exposition format 0.0.4
 * Read-only and without secrets (the snapshot never holds one). It listens only where the config says;
 * requests whose Host header names neither a loopback host nor a configured address are refused, so a
 * web page in the user's browser cannot read it through DNS rebinding.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackHost } from '../config/load.js';
import type { ListenAddress } from '../config/types.js';
import { formatStatus, type StatusSnapshot } from '../runtime/status-format.js';

export interface StatusHttpServer {
  /** The addresses actually bound (port 0 in the config becomes the port the kernel chose). */
  addresses(): Array<{ host: string; port: number }>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Prometheus text format (https://prometheus.io/docs/instrumenting/exposition_formats/)

type Labels = Record<string, string>;

interface Sample {
  labels: Labels;
  value: number;
}

interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

/** Label values escape backslash, double quote and line feed; nothing else. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export function renderPrometheus(families: Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels).map(([key, value]) => `${key}="${labelValue(value)}"`);
      lines.push(`${family.name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${sampleValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function seconds(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * The metric families for a daemon snapshot (the shape of Daemon.snapshot()). Fields the snapshot lacks
 * are left out rather than reported as 0, so a dashboard never shows an invented value. Per account, from
 * the POP3 status: `state`, `lastSuccessAt`, `lastError`, `lastErrorAt`, `progress.{done,total}` and
 * `messagesSynced` (messages brought in since the daemon started).
 */
export function metricsFromSnapshot(snapshot: unknown): Family[] {
  const root = record(snapshot);
  const daemon = record(root.daemon);
  const listeners = record(root.listeners);
  const accounts = Array.isArray(root.accounts) ? root.accounts.map(record) : [];
  const family = (name: string, type: Family['type'], help: string): Family => ({ name, type, help, samples: [] });

  const up = family('hotbridge_up', 'gauge', '1 while the daemon runs and answers.');
  up.samples.push({ labels: {}, value: 1 });
  const info = family('hotbridge_info', 'gauge', 'The version of the running daemon (always 1).');
  if (typeof daemon.version === 'string') info.samples.push({ labels: { version: daemon.version }, value: 1 });
  const started = family('hotbridge_start_time_seconds', 'gauge', 'When the daemon started, in seconds since the Unix epoch.');
  const startedAt = seconds(daemon.startedAt);
  if (startedAt !== undefined) started.samples.push({ labels: {}, value: startedAt });

  const lastSuccess = family(
    'hotbridge_account_last_sync_success_timestamp_seconds',
    'gauge',
    'When the last POP3 sync of the account succeeded.',
  );
  const syncError = family(
    'hotbridge_account_sync_error',
    'gauge',
    '1 while the account shows a POP3 error that no later success has cleared.',
  );
  const signInNeeded = family('hotbridge_account_signin_needed', 'gauge', '1 when the account waits for `hotbridge login ADDRESS`.');
  const localPassword = family(
    'hotbridge_account_local_password_set',
    'gauge',
    '1 when mail clients have a local password for the account.',
  );
  const synced = family('hotbridge_messages_synced_total', 'counter', 'Messages brought in from the provider since the daemon started.');
  const progressDone = family('hotbridge_first_sync_done_messages', 'gauge', 'Messages already fetched by a running first sync.');
  const progressTotal = family('hotbridge_first_sync_total_messages', 'gauge', 'Messages a running first sync has to fetch.');
  const queued = family('hotbridge_outbox_queued_messages', 'gauge', 'Messages waiting in the outbox to be relayed to the provider.');
  const retrying = family(
    'hotbridge_outbox_retrying_messages',
    'gauge',
    'Queued messages that failed at least once and wait for another try.',
  );

  for (const account of accounts) {
    if (typeof account.address !== 'string') continue;
    const labels = { account: account.address };
    const pop3 = record(account.pop3);
    const success = seconds(pop3.lastSuccessAt);
    if (success !== undefined) lastSuccess.samples.push({ labels, value: success });
    const state = typeof pop3.state === 'string' ? pop3.state : '';
    // A last error counts while no success came after it (lastErrorAt, when the poller reports it).
    const errorAt = seconds(pop3.lastErrorAt);
    const failing =
      state === 'error' || (Boolean(pop3.lastError) && (success === undefined || errorAt === undefined || errorAt >= success));
    syncError.samples.push({ labels, value: failing ? 1 : 0 });
    signInNeeded.samples.push({ labels, value: /sign-?in/i.test(state) ? 1 : 0 });
    if (typeof account.localPassword === 'boolean') localPassword.samples.push({ labels, value: account.localPassword ? 1 : 0 });
    const count = finiteNumber(pop3.messagesSynced);
    if (count !== undefined) synced.samples.push({ labels, value: count });
    const progress = record(pop3.progress);
    const total = finiteNumber(progress.total);
    if (total !== undefined && total > 0) {
      progressDone.samples.push({ labels, value: finiteNumber(progress.done) ?? 0 });
      progressTotal.samples.push({ labels, value: total });
    }
    const outbox = record(account.outbox);
    if (Array.isArray(outbox.queued)) {
      const entries = outbox.queued.map(record);
      queued.samples.push({ labels, value: entries.length });
      retrying.samples.push({ labels, value: entries.filter((entry) => (finiteNumber(entry.attempts) ?? 0) > 0).length });
    }
  }

  const imapConnections = family('hotbridge_imap_connections', 'gauge', 'Mail clients connected over IMAP right now.');
  const smtpConnections = family('hotbridge_smtp_connections', 'gauge', 'Mail clients connected over SMTP right now.');
  const pop3Connections = family('hotbridge_pop3_connections', 'gauge', 'Mail clients connected over POP3 right now.');
  const pop3Sessions = family('hotbridge_pop3_sessions_total', 'counter', 'POP3 sessions since hotbridge started.');
  const pop3SessionCount = finiteNumber(record(listeners.pop3).sessions);
  if (pop3SessionCount !== undefined) pop3Sessions.samples.push({ labels: {}, value: pop3SessionCount });
  for (const [protocol, gauge] of [
    ['imap', imapConnections],
    ['smtp', smtpConnections],
    ['pop3', pop3Connections],
  ] as const) {
    const connections = finiteNumber(record(listeners[protocol]).connections);
    if (connections !== undefined) gauge.samples.push({ labels: {}, value: connections });
  }
  const badClosed = family(
    'hotbridge_imap_closed_bad_commands_total',
    'counter',
    'IMAP sessions ended with BYE after 20 BAD or unknown commands in a row.',
  );
  const closedCount = finiteNumber(record(listeners.imap).closedForBadCommands);
  if (closedCount !== undefined) badClosed.samples.push({ labels: {}, value: closedCount });
  // The one event loop every client shares (issue 11): its delay over the last minute and since start.
  const loop = record(root.eventLoop);
  const loopP99 = family(
    'hotbridge_event_loop_delay_p99_seconds',
    'gauge',
    '99th percentile of the event loop delay (perf_hooks.monitorEventLoopDelay).',
  );
  const loopMax = family('hotbridge_event_loop_delay_max_seconds', 'gauge', 'Longest event loop delay seen.');
  for (const [window, key] of [
    ['last_minute', 'lastMinute'],
    ['since_start', 'sinceStart'],
  ] as const) {
    const figures = record(loop[key]);
    const p99 = finiteNumber(figures.p99Ms);
    const max = finiteNumber(figures.maxMs);
    if (p99 !== undefined) loopP99.samples.push({ labels: { window }, value: p99 / 1000 });
    if (max !== undefined) loopMax.samples.push({ labels: { window }, value: max / 1000 });
  }
  const smtpClosed = family(
    'hotbridge_smtp_closed_connections_total',
    'counter',
    'SMTP connections the server closed since start, by reason.',
  );
  const smtp = record(listeners.smtp);
  for (const [reason, key] of [
    ['errors', 'closedForErrors'],
    ['login_deadline', 'closedForLoginDeadline'],
    ['session_deadline', 'closedForSessionDeadline'],
    ['idle', 'closedIdle'],
    ['room', 'closedForRoom'],
  ]) {
    const value = finiteNumber(smtp[key]);
    if (value !== undefined) smtpClosed.samples.push({ labels: { reason }, value });
  }
  const logins = family(
    'hotbridge_local_logins_total',
    'counter',
    'Local logins (IMAP, SMTP) since start: accepted, refused, and given up by a client that left.',
  );
  const loginCounts = record(root.localLogins);
  for (const [result, key] of [
    ['accepted', 'successes'],
    ['refused', 'failures'],
    ['abandoned', 'dropped'],
  ]) {
    const value = finiteNumber(loginCounts[key]);
    if (value !== undefined) logins.samples.push({ labels: { result }, value });
  }
  const loginHashes = family(
    'hotbridge_local_login_hashes_total',
    'counter',
    'scrypt checks of local passwords since start (a login found in the cache needs none).',
  );
  const hashes = finiteNumber(loginCounts.hashes);
  if (hashes !== undefined) loginHashes.samples.push({ labels: {}, value: hashes });
  const listening = family('hotbridge_listening_addresses', 'gauge', 'Local addresses the IMAP, SMTP and POP3 servers listen on.');
  for (const protocol of ['imap', 'smtp', 'pop3']) {
    const addresses = record(listeners[protocol]).addresses;
    if (Array.isArray(addresses)) listening.samples.push({ labels: { protocol }, value: addresses.length });
  }

  return [
    up,
    info,
    started,
    lastSuccess,
    syncError,
    signInNeeded,
    localPassword,
    synced,
    progressDone,
    progressTotal,
    queued,
    retrying,
    imapConnections,
    smtpConnections,
    pop3Connections,
    pop3Sessions,
    badClosed,
    smtpClosed,
    logins,
    loginHashes,
    loopP99,
    loopMax,
    listening,
  ];
}

// ---------------------------------------------------------------------------------------------
// The page

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

export function statusPage(snapshot: unknown): string {
  let body: string;
  try {
    body = formatStatus(snapshot as StatusSnapshot);
  } catch {
    // A snapshot of another shape (an older or newer daemon): show it as it is rather than nothing.
    body = JSON.stringify(snapshot, null, 2);
  }
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta http-equiv="refresh" content="30">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>hotbridge status</title>',
    '<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}pre{background:#f4f4f4;padding:1em;overflow-x:auto}</style>',
    '</head><body>',
    '<h1>hotbridge</h1>',
    `<pre>${escapeHtml(body)}</pre>`,
    '<p>Refreshes every 30 seconds. For scripts: <a href="/status">/status</a> (JSON), <a href="/metrics">/metrics</a> (Prometheus).</p>',
    '</body></html>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The server

/** The host part of a Host header: `[::1]:8025` -> `::1`, `localhost:8025` -> `localhost`. */
function hostOfHeader(header: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (bracketed) return bracketed[1].toLowerCase();
  return header.replace(/:\d+$/, '').toLowerCase();
}

function hostAllowed(header: string | undefined, listen: ListenAddress[]): boolean {
  // HTTP/1.0 clients may send no Host; they cannot be a browser doing DNS rebinding.
  if (header === undefined || header === '') return true;
  const host = hostOfHeader(header);
  return isLoopbackHost(host) || listen.some((address) => address.host.toLowerCase() === host);
}

export async function startStatusHttp(listen: ListenAddress[], snapshot: () => Promise<unknown>): Promise<StatusHttpServer> {
  const handler = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    const send = (status: number, type: string, body: string, extra: http.OutgoingHttpHeaders = {}) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (!hostAllowed(request.headers.host, listen)) {
      send(421, 'text/plain; charset=utf-8', 'this status page answers only to the addresses it listens on\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'only GET\n', { allow: 'GET, HEAD' });
      return;
    }
    const route = (request.url ?? '/').split('?')[0];
    if (route !== '/' && route !== '/status' && route !== '/metrics') {
      send(404, 'text/plain; charset=utf-8', 'not found: try /, /status or /metrics\n');
      return;
    }
    snapshot().then(
      (value) => {
        if (route === '/status') send(200, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
        else if (route === '/metrics') send(200, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(metricsFromSnapshot(value)));
        else send(200, 'text/html; charset=utf-8', statusPage(value));
      },
      (err: Error) => send(500, 'text/plain; charset=utf-8', `the daemon could not report its status: ${err.message}\n`),
    );
  };

  const servers: http.Server[] = [];
  const closeAll = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    ).then(() => undefined);
  try {
    for (const address of listen) {
      const server = http.createServer(handler);
      // Slow or idle clients must not hold sockets open forever.
      server.headersTimeout = 10_000;
      server.requestTimeout = 30_000;
      server.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address.host, port: address.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    addresses: () =>
      servers.map((server) => {
        const bound = server.address() as AddressInfo;
        return { host: bound.address, port: bound.port };
      }),
    close: closeAll,
  };
}
