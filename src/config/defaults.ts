/**
 * Every default of the config, stated once (docs/config.md lists them for users). config/load.ts fills
 * them in; a part that has a fallback for callers without a config (tests, tools, the doctor) takes the
 * same value from here, so the two can never disagree.
 */

const MiB = 1024 * 1024;

export const DEFAULTS = {
  /** `[imap] listen`: loopback only (the [::1] one may be missing on a machine without IPv6). */
  imapListen: ['127.0.0.1:1143', '[::1]:1143'],
  /** `[imap] max_connections_per_address` (every loopback address counts as one). */
  imapMaxConnectionsPerAddress: 50,
  /** `[imap] max_connections`: all clients together. */
  imapMaxConnections: 500,
  /** `[smtp] listen`. */
  smtpListen: ['127.0.0.1:1025', '[::1]:1025'],
  /** `[pop3] listen`: the POP3 server for POP3-only clients, loopback only. */
  pop3Listen: ['127.0.0.1:1110', '[::1]:1110'],
  /** `[pop3] max_connections_per_address` (every loopback address counts as one). */
  pop3MaxConnectionsPerAddress: 20,
  /** `[pop3] max_connections`: all POP3 clients together. */
  pop3MaxConnections: 200,
  /** `tls_min_version` of [imap], [pop3] and [smtp]. */
  tlsMinVersion: 'TLSv1.2',
  /** `[smtp] max_message_size` (and `[imap] max_literal_size` unless set). */
  maxMessageBytes: 35 * MiB,
  /** `accounts.poll_interval`. */
  pollIntervalMs: 2 * 60_000,
  /** `accounts.pop3.timeout` and `accounts.smtp.timeout`: how long a silent server is waited for. */
  upstreamTimeoutMs: 60_000,
  /** `accounts.pop3.max_message_size`: larger messages stay on the server. */
  pop3MaxMessageBytes: 100 * MiB,
  /** `accounts.pop3.batch_size`: messages per POP3 session before it reconnects. */
  pop3BatchSize: 50,
} as const;
