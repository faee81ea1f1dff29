/**
 * Typed failures of the POP3 client. The poller decides from `kind` and `temporary` alone whether to back off
 * and retry (the provider is busy, the line dropped) or to stop and tell the user (the password was refused).
 * Messages name the command, never its arguments: a PASS or AUTH line carries a secret.
 */

/**
 * - `auth`: the server refused the credentials (or the mechanism).
 * - `protocol`: the server answered `-ERR`, or said something that is not POP3.
 * - `timeout`: the server went silent past the deadline.
 * - `io`: the connection could not be opened, dropped, or was closed.
 * - `tls`: the TLS handshake failed (certificate not trusted, wrong name) or STLS is not available.
 */
export type Pop3ErrorKind = 'auth' | 'protocol' | 'timeout' | 'io' | 'tls';

export interface Pop3ErrorDetails {
  /** Whether trying again later may succeed (busy server, dropped line), as opposed to a configuration problem. */
  temporary?: boolean;
  /** The server's own words (the text after `-ERR`), useful in a status display; never holds our secrets. */
  serverText?: string;
  /**
   * An RFC 2449 §8 response code from the server (`AUTH`, `SYS/TEMP`, `IN-USE`, ...), or one of our own:
   * {@link TOO_LARGE} and {@link TRUNCATED} (the connection is closed in both cases).
   */
  code?: string;
  cause?: unknown;
}

/** A failed POP3 operation; see {@link Pop3ErrorKind}. */
export class Pop3Error extends Error {
  override readonly name = 'Pop3Error';
  readonly kind: Pop3ErrorKind;
  readonly temporary: boolean;
  readonly serverText?: string;
  readonly code?: string;

  constructor(kind: Pop3ErrorKind, message: string, details: Pop3ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.temporary = details.temporary ?? false;
    if (details.serverText !== undefined) this.serverText = details.serverText;
    if (details.code !== undefined) this.code = details.code;
  }
}

/** Our code for an answer larger than its limit (a message over `maxMessageBytes`); not a server code. */
export const TOO_LARGE = 'TOO-LARGE';

/**
 * Our code for a message the server ended early: what followed its end was not a status line, so a line holding
 * only "." was not dot-stuffed (RFC 1939 §3) and the rest of the message came where the next answer belonged.
 */
export const TRUNCATED = 'TRUNCATED';

/** The RFC 2449 §8 response code at the start of a `-ERR` text (`[SYS/TEMP] ...` -> `SYS/TEMP`), upper-cased. */
export function responseCodeOf(text: string): string | undefined {
  const match = /^\[([^\]\s]+)\]/.exec(text.trim());
  return match ? match[1].toUpperCase() : undefined;
}

/**
 * RFC 2449 §8.1.1 (LOGIN-DELAY, IN-USE) and RFC 3206 §4 (SYS/TEMP) mark conditions that pass; Outlook.com
 * says `-ERR Server Unavailable. 21` (and other numbers) when it throttles, with no response code.
 */
function isTemporaryReply(code: string | undefined, text: string): boolean {
  if (code !== undefined && (code === 'SYS/TEMP' || code === 'IN-USE' || code === 'LOGIN-DELAY')) return true;
  return /\bserver unavailable\b/i.test(text);
}

/**
 * The error for a `-ERR` reply. `phase` is `auth` for the login exchange: a refusal there is an
 * authentication failure unless the server marks it as temporary or as a system fault.
 */
export function errorFromServerReply(command: string, text: string, phase: 'auth' | 'command'): Pop3Error {
  const code = responseCodeOf(text);
  const temporary = isTemporaryReply(code, text);
  const refusedLogin = phase === 'auth' && !temporary && code !== 'SYS/PERM';
  const shown = text.length > 0 ? text : '(no text)';
  const details: Pop3ErrorDetails = { temporary, serverText: text };
  if (code !== undefined) details.code = code;
  if (refusedLogin) return new Pop3Error('auth', `POP3 server refused ${command}: ${shown}`, details);
  return new Pop3Error('protocol', `POP3 server answered ${command} with -ERR: ${shown}`, details);
}
