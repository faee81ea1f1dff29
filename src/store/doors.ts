/**
 * The store's doors: one narrow interface per user, in the store's own words (records, neutral error
 * codes in errors.ts, change events in changes.ts). The daemon opens the one `Store` and hands each part
 * only its door; a part never sees the rest of the store, and the store knows nothing of the protocols
 * on the other side of each door.
 */
import type { MessageIndex } from '../mime/index.js';
import type { BlobSpool, SpooledBlob } from './blob-chunks.js';
import type { ChangeSource } from './changes.js';
import type { VanishedAnswer } from './expunge-history.js';
import type { FlagChange } from './flags.js';
import type { AppendOptions } from './messages.js';
import type { MailboxRecord, MessageRecord, NewOutboxEntry, OutboxEntry, SpecialUse } from './records.js';
import type { UidlLedgerView } from './uidl-ledger.js';

/** One mailbox's new name in a rename (see ImapStore.renameMailboxes). */
export interface MailboxRename {
  from: string;
  to: string;
}

/** What COPY and MOVE did: the target's UIDVALIDITY and [source UID, new UID] pairs. */
export interface CopyResult {
  uidValidity: number;
  pairs: Array<[number, number]>;
}

/** What a flag change did: the records it changed, and the UIDs it left alone (`unchangedSince`). */
export interface FlagStoreResult {
  changed: MessageRecord[];
  modifiedSince: number[];
}

/** What the IMAP server needs: mailboxes, subscriptions, messages, their bytes and indexes, changes. */
export interface ImapStore {
  readonly changes: ChangeSource;
  /** The accounts that have mailboxes. */
  listAccounts(): string[];
  /** All mailboxes of an account, sorted by name (INBOX first). */
  listMailboxes(account: string): MailboxRecord[];
  /** A mailbox by name; INBOX in any case is INBOX. */
  findMailbox(account: string, name: string): MailboxRecord | undefined;
  getMailbox(mailboxId: number): MailboxRecord | undefined;
  /** A new, empty mailbox; `exists` if the name is taken. */
  createMailbox(account: string, name: string, specialUse?: SpecialUse): Promise<MailboxRecord>;
  /** Deletes a mailbox and its messages; INBOX is `not-allowed`. */
  deleteMailbox(mailboxId: number): Promise<void>;
  /**
   * Renames mailboxes in one batch (a mailbox and the ones below it, as the caller's hierarchy has it).
   * Every `from` must exist and no `to` may; UIDVALIDITY and the messages stay. Renaming INBOX (alone)
   * moves its messages into a new mailbox and leaves INBOX empty.
   */
  renameMailboxes(account: string, renames: readonly MailboxRename[]): Promise<void>;
  /** Subscribed names (they may name mailboxes that no longer exist). */
  listSubscriptions(account: string): Promise<string[]>;
  setSubscribed(account: string, name: string, subscribed: boolean): Promise<void>;
  /** The messages of a mailbox in UID order: a snapshot that later changes leave as it is. */
  listMessages(mailboxId: number): Promise<readonly MessageRecord[]>;
  /** A message's bytes, exactly as received. */
  getBlob(blobId: string): Promise<Buffer>;
  /**
   * Keeps these messages' bytes and indexes readable, even once expunged, until the returned function is
   * called: a reader that still shows an expunged message may still read it (blob-retention.ts).
   */
  retainBlobs(blobIds: readonly string[]): () => void;
  /** Indexes of many messages in one read (undefined where a blob is gone); body text only with `text`. */
  getIndexes(blobIds: readonly string[], options?: { text?: boolean }): Promise<Array<MessageIndex | undefined>>;
  appendMessage(mailboxId: number, raw: Buffer, options?: AppendOptions): Promise<{ uid: number; uidValidity: number; blobId: string }>;
  /** Changes flags; over a keyword limit it throws (`limit`) and changes nothing. */
  storeFlags(
    mailboxId: number,
    uids: readonly number[],
    mode: FlagChange,
    flags: readonly string[],
    options?: { unchangedSince?: number },
  ): Promise<FlagStoreResult>;
  copyMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<CopyResult>;
  /** Copy and expunge in one batch. */
  moveMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<CopyResult>;
  /** Removes messages; returns the UIDs that were there. */
  expungeMessages(mailboxId: number, uids: readonly number[]): Promise<number[]>;
  /** The UIDs expunged after a mod-sequence, as far as the history reaches. */
  vanishedSince(mailboxId: number, modseq: number): Promise<VanishedAnswer>;
}

/**
 * A message the POP3 poller fetched: its bytes in `raw`, or — a large one streamed to disk as it came — the
 * chunk set a {@link BlobSpool} wrote (`spooled`), with the same bytes in `bytes` when the poller still holds
 * them (the index is then computed from those instead of the chunks read back).
 */
export type IngestItem = { uidl: string; internalDate?: number } & (
  { raw: Buffer; spooled?: undefined } | { spooled: SpooledBlob; bytes?: Buffer; raw?: undefined }
);

/** What the store did with one fetched message: stored with a UID, or known already. */
export interface IngestResult {
  uidl: string;
  uid?: number;
  duplicate: boolean;
}

/** What the POP3 poller needs: the UIDL ledger (lookups and marks) and the ingest. */
export interface PollerStore {
  /** An account's ledger; take it once per session, it answers from the ledger as it is when asked. */
  uidlLedger(account: string): Promise<UidlLedgerView>;
  /**
   * Stores fetched messages in INBOX with their UIDLs in the ledger, in one `{ sync: true }` batch; only
   * after it resolves may the poller DELE them. A UIDL the ledger knows is not stored again.
   */
  ingestPop3(account: string, items: IngestItem[]): Promise<IngestResult[]>;
  /** The upstream copies are gone (after the QUIT that made DELE final). */
  markDeletedUpstream(account: string, uidls: string[]): Promise<void>;
  /** Forgets UIDLs the server no longer lists. */
  forgetUidls(account: string, uidls: string[]): Promise<void>;
  /**
   * Renames ledger entries (the server gave messages we hold new UIDLs) in one `{ sync: true }` batch, with
   * the messages that carry an old UIDL; skips a rename whose old UIDL is unknown or whose new one is taken.
   * Returns how many were made.
   */
  renamePop3Uidls(account: string, renames: ReadonlyArray<{ from: string; to: string }>): Promise<number>;
  /**
   * Starts writing a large message to disk as it arrives (blob-chunks.ts); the finished spool goes to
   * `ingestPop3` as `spooled`. Until then it is part of no message, and a crash leaves nothing behind.
   */
  spoolBlob(): BlobSpool;
  /** Indexes of stored messages (size, Message-ID: what a renamed message is recognised by). */
  getIndexes(blobIds: readonly string[]): Promise<Array<MessageIndex | undefined>>;
}

/** What the SMTP submission server needs: to queue a message durably before its 250. */
export interface SubmissionStore {
  enqueueOutbox(entry: NewOutboxEntry, raw: Buffer): Promise<OutboxEntry>;
}

/** A message the outbox places in one of the entry's account's mailboxes (a bounce, a Sent copy). */
export interface Delivery {
  /** The default mailbox it goes to (made again if the user deleted it). */
  mailbox: 'INBOX' | 'Sent';
  raw: Buffer;
  flags?: string[];
}

/** What the outbox relay worker needs: the queue, the bytes, and to record each attempt. */
export interface RelayStore {
  readonly changes: ChangeSource;
  /** An account's queued submissions, oldest first. */
  listOutbox(account: string): Promise<OutboxEntry[]>;
  getBlob(blobId: string): Promise<Buffer>;
  /** Saves an attempt's progress; `deliveries` (a bounce) go in the same batch. */
  updateOutbox(entry: OutboxEntry, deliveries?: Delivery[]): Promise<void>;
  /** Takes an entry out of the queue; `deliveries` (a bounce, the Sent copy) go in the same batch. */
  finishOutbox(entryId: string, deliveries?: Delivery[]): Promise<void>;
}
