/**
 * The shape of a command module (commands/<name>.ts): its name, the states it is legal in, its
 * argument parser and its handler. The dispatcher (connection.ts) checks the state, runs the parser,
 * runs the handler, sends the updates the command allows and writes the tagged line; a handler never
 * writes the tagged line itself, it returns an outcome or throws an `ImapError`.
 */
import type { Logger } from '../../runtime/logger.js';
import type { LocalAuthenticator } from '../../runtime/local-auth.js';
import type { SecureContext } from 'node:tls';
import type { TimeSlice } from '../../runtime/time-slice.js';
import type { MailStore } from './backend.js';
import type { BlobCache } from './blob-cache.js';
import type { MailboxChanges } from './mailbox-changes.js';
import type { ResponseOutput } from './output.js';
import type { RecentTracker } from './recent.js';
import type { ImapSession, SessionState } from './session.js';
import type { ArgReader } from './wire/args.js';

/** What every connection of one server shares. */
export interface ServerContext {
  store: MailStore;
  auth: LocalAuthenticator;
  logger: Logger;
  recent: RecentTracker;
  /** Message bytes recently read, shared by the sessions (FETCH of sections). */
  blobs: BlobCache;
  /** The store's change feed, sorted by mailbox for the selected mailboxes' views. */
  changes: MailboxChanges;
  /** The largest literal (and so message) accepted, also APPENDLIMIT (RFC 7889). */
  maxLiteralBytes: number;
  /** Present when STARTTLS is offered. */
  tls?: SecureContext;
  /** IDLE timing (RFC 2177 §3). */
  idle: IdleTiming;
  /** What the server counts for the status (hotbridge status --json, /metrics). */
  counters: ImapCounters;
}

/** Events the IMAP server counts since it started. */
export interface ImapCounters {
  /** Sessions ended with BYE after too many BAD commands in a row (connection.ts). */
  closedForBadCommands: number;
}

/** How IDLE keeps a connection alive and when it gives up. */
export interface IdleTiming {
  /** Interval of `* OK Still here` while idling, so NAT boxes and firewalls keep the connection. */
  keepaliveMs: number;
  /** An IDLE without DONE for this long ends the connection with BYE (clients re-IDLE before 29 minutes). */
  limitMs: number;
}

/** A line the client sent in answer to a continuation request, or why there is none. */
export type ContinuationReply = { line: Buffer } | { tooLong: true } | { timeout: true } | { closed: true };

/** What a handler can use while it runs. */
export interface CommandContext {
  readonly tag: string;
  /** The command came as `UID <command>`. */
  readonly uid: boolean;
  readonly session: ImapSession;
  readonly server: ServerContext;
  /** Untagged responses go here. */
  readonly out: ResponseOutput;
  /** The connection's turn on the event loop: loops over many messages yield when it is used up. */
  readonly slice: TimeSlice;
  /** Aborts when the client's connection is gone (not at a half-close: the client still reads then). */
  readonly connectionClosed: AbortSignal;
  /** The capability list for the session's current state (CAPABILITY, the LOGIN response code). */
  capabilities(): string;
  /** Sends `+ text` and flushes (AUTHENTICATE challenges, IDLE's "+ idling"). */
  sendContinuation(text: string): void;
  /** Waits for the client's next raw line. */
  readLine(timeoutMs?: number): Promise<ContinuationReply>;
  /** Sends pending mailbox updates now (IDLE); expunges allowed. */
  syncNow(): Promise<void>;
  /** Says `* BYE text` and ends the connection; the dispatcher then writes no tagged line. */
  closeWithBye(text: string): void;
}

/** How a command ended well: the tagged OK's text and response code, and what happens after it. */
export interface CommandOutcome {
  text?: string;
  code?: string;
  /**
   * A response code that can only be known once the updates this command allows have been sent
   * (HIGHESTMODSEQ after EXPUNGE with QRESYNC, RFC 7162 §3.2.7); takes precedence over `code`.
   */
  codeAfterSync?: () => string | undefined;
  /** After the tagged line: start TLS (STARTTLS) or end the connection (LOGOUT). */
  then?: 'starttls' | 'logout';
}

/** One command module: name, legal states, argument parser, handler. */
export interface Command<A> {
  /** The command name as written on the wire, upper case. */
  readonly name: string;
  /** The states the command is legal in (RFC 3501 §6). */
  readonly states: readonly SessionState[];
  /** Whether `UID <name>` exists (RFC 3501 §6.4.8, RFC 4315, RFC 6851). */
  readonly uidVariant?: boolean;
  /**
   * Whether EXPUNGE (or VANISHED) responses may go out with this command's reply, given its parsed
   * arguments. RFC 3501 §7.4.1 forbids them during FETCH, STORE and SEARCH (their UID forms are allowed,
   * RFC 3501 §6.4.8 note), and RFC 7162 §3.2.10 during a UID SEARCH with message numbers in it.
   */
  readonly expungeAllowed?: (uid: boolean, args: A) => boolean;
  /**
   * Checks a command that waits for its synchronizing literal before the client sends it (so a 30 MB
   * APPEND to a missing mailbox is refused before the upload, RFC 3501 §7.5). Reads the arguments up to
   * the literal (reaching it throws PendingLiteral, which means "fine so far") and throws an
   * ImapError to refuse.
   */
  beforeLiteral?(args: ArgReader, context: { session: ImapSession; server: ServerContext }): void;
  /** Reads the arguments; the cursor stands right after the command name. */
  parse(args: ArgReader, context: { uid: boolean; session: ImapSession }): A;
  run(ctx: CommandContext, args: A): Promise<CommandOutcome | void>;
}

/** Declares a command module, keeping its argument type between `parse` and `run`. */
export function defineCommand<A>(command: Command<A>): Command<unknown> {
  return command as Command<unknown>;
}

/** State sets for `Command.states` (RFC 3501 §6.1-§6.4). */
export const ANY_STATE: readonly SessionState[] = ['not-authenticated', 'authenticated', 'selected'];
export const AUTHENTICATED: readonly SessionState[] = ['authenticated', 'selected'];
export const SELECTED: readonly SessionState[] = ['selected'];
export const NOT_AUTHENTICATED: readonly SessionState[] = ['not-authenticated'];

/** For commands without arguments. */
export function noArguments(args: ArgReader): void {
  args.end();
}

/** For commands whose only argument is a mailbox name (DELETE, SUBSCRIBE, UNSUBSCRIBE). */
export function parseMailboxOnly(args: ArgReader): string {
  args.space();
  const mailbox = args.mailbox();
  args.end();
  return mailbox;
}
