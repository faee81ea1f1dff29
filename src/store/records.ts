/** The records the store keeps. Everything here is plain JSON except blobs, which stay Buffers. */

/** RFC 6154 special-use attributes the default folders carry. */
export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface MailboxRecord {
  id: number;
  /** The owning account's address, lowercased. */
  account: string;
  /** Full name (any hierarchy in it is the servers' business; IMAP shows '/'); "INBOX" is always spelled so. */
  name: string;
  uidValidity: number;
  uidNext: number;
  /** RFC 7162: the highest mod-sequence of anything in the mailbox (starts at 1). */
  highestModseq: number;
  /**
   * QRESYNC (RFC 7162 §5.3): the expunge history lists every expunge with a mod-sequence above this;
   * older ones were forgotten to bound its size. Absent in records written before the history existed
   * (the store then takes the mailbox's HIGHESTMODSEQ at first load).
   */
  vanishedFloor?: number;
  specialUse?: SpecialUse;
  createdAt: number;
}

export interface MessageRecord {
  uid: number;
  /** Content hash of the raw bytes; the key of the blob and of the message index. */
  blobId: string;
  /** System flags (\Seen …) and keywords; \Recent is per session and never stored. */
  flags: string[];
  /** INTERNALDATE in ms since the epoch. */
  internalDate: number;
  /** RFC822.SIZE: octets of the raw message. */
  size: number;
  modseq: number;
  /** The POP3 UIDL this copy came from (INBOX copies made by the poller), for delete_on_expunge. */
  uidl?: string;
}

export interface Pop3LedgerEntry {
  uidl: string;
  blobId: string;
  fetchedAt: number;
  /** Octets of the stored message, and its Message-ID field (unfolded, trimmed), when it has one: what a
   *  message the server renamed (a new UIDL) is recognised by. Absent in entries written before they were kept. */
  size?: number;
  messageId?: string;
  /** Set once the upstream copy is gone (DELE confirmed by QUIT). */
  deletedUpstreamAt?: number;
  /** Set when the user expunged the local copy (delete_on_expunge acts on it). */
  expungedLocallyAt?: number;
}

export interface OutboxFailure {
  recipient: string;
  /** The provider's reply, exactly as received. */
  reply: string;
}

export interface OutboxEntry {
  id: string;
  account: string;
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Every RCPT TO of the submission. */
  recipients: string[];
  /** Recipients not yet accepted by the provider. */
  pending: string[];
  delivered: string[];
  failed: OutboxFailure[];
  blobId: string;
  size: number;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
  /** `auth` when the provider refused our credentials: the message waits for a fresh sign-in. */
  waitingFor?: 'auth';
}

export interface NewOutboxEntry {
  account: string;
  from: string;
  recipients: string[];
}
