/**
 * One POP3 session's state (RFC 1939 §3): AUTHORIZATION until a login succeeds, then TRANSACTION with
 * the maildrop as it was at that moment. Message numbers, sizes and deletion marks belong to the session.
 *
 * Beside IMAP (as Dovecot does it): the maildrop is the INBOX at login. Mail that arrives later shows up
 * at the next login; a message that an IMAP client expunges meanwhile keeps its number here, is still
 * listed, and answers `-ERR` on RETR and TOP. Several POP3 sessions may have the same maildrop open
 * (no [IN-USE] lock, like Dovecot's default): whichever QUITs first removes what it deleted, and a later
 * QUIT finds those already gone, which is harmless.
 */
import type { MaildropMessage, MaildropSnapshot } from './maildrop.js';

export type Pop3State = 'authorization' | 'transaction';

/** A message of the session: its maildrop entry and its RFC 1939 size. */
export interface SessionMessage extends MaildropMessage {
  size: number;
}

export class Pop3Session {
  state: Pop3State = 'authorization';
  /** The account logged in. */
  account?: string;
  /** USER given, waiting for PASS. */
  pendingUser?: string;
  failedLogins = 0;
  mailboxId = 0;
  uidValidity = 0;
  messages: SessionMessage[] = [];
  /** Message numbers marked by DELE (RFC 1939 §5: removed only in the UPDATE state). */
  readonly deleted = new Set<number>();
  /** UIDs expunged by another session since login. */
  readonly gone = new Set<number>();
  /**
   * The bytes of the message a client will most likely ask for next (the one after its last RETR, or
   * the one it just LISTed, as fetchmail does before each RETR), read while the client is busy.
   */
  prefetched?: { n: number; bytes: Promise<Buffer | undefined> };

  constructor(
    readonly remoteAddress: string,
    /** The client reached a loopback address. */
    readonly loopback: boolean,
    /** TLS is on (implicit, or after STLS). */
    public secure: boolean,
  ) {}

  enterTransaction(account: string, snapshot: MaildropSnapshot, sizes: number[]): void {
    this.state = 'transaction';
    this.account = account;
    this.pendingUser = undefined;
    this.mailboxId = snapshot.mailboxId;
    this.uidValidity = snapshot.uidValidity;
    this.messages = snapshot.messages.map((message, i) => ({ ...message, size: sizes[i] }));
  }

  /** The message numbered `n` unless it is out of range or marked deleted. */
  live(n: number): SessionMessage | undefined {
    if (!Number.isInteger(n) || n < 1 || n > this.messages.length || this.deleted.has(n)) return undefined;
    return this.messages[n - 1];
  }

  /** The unique-id listing (RFC 1939 §7 UIDL): from UIDVALIDITY and UID, so it never changes or repeats. */
  uidl(message: MaildropMessage): string {
    return uidlOf(this.uidValidity, message.uid);
  }
}

/**
 * Dovecot's default pop3_uidl_format "%08Xu%08Xv": UID then UIDVALIDITY, eight hex digits each. Within
 * the 70 characters 0x21..0x7E that RFC 1939 §7 allows; UIDs only grow and are never reused (ARCHITECTURE.md
 * invariant 3), and UIDVALIDITY changes only when the mailbox is recreated.
 */
export function uidlOf(uidValidity: number, uid: number): string {
  const hex = (value: number) => value.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(uid)}${hex(uidValidity)}`;
}
