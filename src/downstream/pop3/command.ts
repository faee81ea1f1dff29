/**
 * What a POP3 command module gets and gives back. A module declares the states it is legal in and runs
 * with the session; it answers through `out` and throws Pop3Error for `-ERR`, which the connection
 * writes in one place.
 */
import type { SecureContext } from 'node:tls';
import type { Logger } from '../../runtime/logger.js';
import type { Pop3Maildrop } from './maildrop.js';
import type { Pop3Output } from './output.js';
import type { Pop3Session, Pop3State } from './session.js';
import type { SizeCache } from './size-cache.js';

/** Checks a local login; resolves with the account address, or undefined when refused (after the penalty). */
export type VerifyLogin = (user: string, password: string, remoteAddress: string, signal?: AbortSignal) => Promise<string | undefined>;

/** What all sessions of one server share. */
export interface Pop3ServerContext {
  maildrop: Pop3Maildrop;
  verify: VerifyLogin;
  logger: Logger;
  sizes: SizeCache;
  /** The certificate for STLS now, when there is one (it may be renewed while the server runs). */
  tls?: () => SecureContext | undefined;
  /** Plaintext logins on non-loopback addresses (`allow_plaintext_lan`). */
  allowPlaintextLan: boolean;
}

/** What a client line can be answered with while a command runs (AUTH's continuation lines). */
export type ContinuationLine = { line: string } | { closed: true } | { tooLong: true };

export interface Pop3CommandContext {
  session: Pop3Session;
  server: Pop3ServerContext;
  out: Pop3Output;
  /** The arguments after the keyword, split on single spaces (RFC 1939 §3). */
  args: string[];
  /** Aborted once the client is gone (a login check still waiting for its turn is then dropped). */
  connectionClosed: AbortSignal;
  /** Sends "+ text" (RFC 5034 §4) and waits for the client's next line. */
  continuation(text: string): Promise<ContinuationLine>;
}

/** What the connection does after the reply: switch to TLS (STLS) or close (QUIT, too many failures). */
export type Pop3Outcome = void | { then: 'stls' | 'close' };

export interface Pop3Command {
  states: readonly Pop3State[];
  run(ctx: Pop3CommandContext): Promise<Pop3Outcome> | Pop3Outcome;
}

/** Whether a login (USER/PASS, AUTH) may be attempted on this connection now. */
export function plaintextLoginAllowed(session: Pop3Session, server: Pop3ServerContext): boolean {
  return session.loopback || session.secure || server.allowPlaintextLan;
}

/** The message number argument of LIST, RETR, DELE, TOP, UIDL: digits only (RFC 1939 §3 "msg"). */
export function messageNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return undefined;
  return Number(text);
}
