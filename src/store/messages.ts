/**
 * Messages: the list of each mailbox (kept in memory once read, see message-list.ts), and the
 * operations on them that a transaction is made of: add (APPEND, ingest, bounces and Sent copies), copy,
 * move, expunge (with its QRESYNC history) and flag changes. Each new message gets the next UID and a new
 * mod-sequence of its mailbox (RFC 3501 §2.3.1.1, RFC 7162 §3.1).
 */
import type { BlobRef, Blobs } from './blobs.js';
import type { Sublevels, StoredMessage } from './database.js';
import type { ExpungeHistory } from './expunge-history.js';
import { FlagSets } from './flag-sets.js';
import { applyFlags, isKeyword, normalizeFlags, sameFlags, type FlagChange } from './flags.js';
import { messageKey, messageRange, uidFromMessageKey } from './keys.js';
import { checkMailboxKeywords, checkMessageKeywords } from './keyword-limits.js';
import type { Mailboxes } from './mailboxes.js';
import { MessageList } from './message-list.js';
import type { MailboxRecord, MessageRecord } from './records.js';
import type { Transaction } from './transaction.js';
import { rangesOf } from './vanished-log.js';

/** What a new message carries besides its bytes. */
export interface AppendOptions {
  flags?: string[];
  internalDate?: number;
  uidl?: string;
}

/**
 * A message record in one of two fixed shapes. Adding `uidl` to a record after it was made gives it an
 * out-of-object property array of 40 bytes; made with the field, it costs 8: 3 MB less for a
 * 100,000-message INBOX.
 */
function messageRecord(
  uid: number,
  blobId: string,
  flags: string[],
  internalDate: number,
  size: number,
  modseq: number,
  uidl: string | undefined,
): MessageRecord {
  return uidl === undefined ? { uid, blobId, flags, internalDate, size, modseq } : { uid, blobId, flags, internalDate, size, modseq, uidl };
}

export class Messages {
  private readonly lists = new Map<number, MessageList>();
  private readonly flagSets = new FlagSets();

  constructor(
    private readonly sub: Pick<Sublevels, 'message'>,
    private readonly mailboxes: Mailboxes,
    private readonly blobs: Blobs,
    private readonly history: ExpungeHistory,
  ) {}

  /** The list of a mailbox, read from disk the first time. */
  async list(mailboxId: number): Promise<MessageList> {
    const cached = this.lists.get(mailboxId);
    if (cached) return cached;
    const records: MessageRecord[] = [];
    const iterator = this.sub.message.iterator(messageRange(mailboxId));
    try {
      for (;;) {
        const entries = await iterator.nextv(4096);
        if (entries.length === 0) break;
        for (const [key, value] of entries) {
          const [blobId, flags, internalDate, size, modseq, uidl] = value;
          records.push(messageRecord(uidFromMessageKey(key), blobId, this.flagSets.intern(flags), internalDate, size, modseq, uidl));
        }
      }
    } finally {
      await iterator.close();
    }
    const list = new MessageList(records);
    // Another caller may have loaded it while we awaited; keep the first so nobody holds a stale copy.
    const raced = this.lists.get(mailboxId);
    if (raced) return raced;
    this.lists.set(mailboxId, list);
    return list;
  }

  /**
   * The messages of a mailbox read from disk a batch at a time, without keeping them (export reads a
   * 100,000-message mailbox once; holding its list would cost tens of MB for nothing). No iterator stays
   * open across a yield: the consumer may reopen the database between batches (export.ts).
   */
  async *stream(mailboxId: number): AsyncGenerator<MessageRecord[]> {
    const range = messageRange(mailboxId);
    let after: string | undefined;
    for (;;) {
      const iterator = this.sub.message.iterator({ gt: after ?? range.gt, lt: range.lt });
      let entries: Array<[string, StoredMessage]>;
      try {
        entries = await iterator.nextv(1024);
      } finally {
        await iterator.close();
      }
      if (entries.length === 0) return;
      after = entries[entries.length - 1][0];
      yield entries.map(([key, [blobId, flags, internalDate, size, modseq, uidl]]) =>
        messageRecord(uidFromMessageKey(key), blobId, flags, internalDate, size, modseq, uidl),
      );
    }
  }

  /** A mailbox created in this transaction starts with an empty list (no read needed). */
  created(txn: Transaction, mailboxId: number): void {
    txn.afterCommit(() => this.lists.set(mailboxId, new MessageList([])));
  }

  /** Removes every message of a mailbox that goes (DELETE). */
  async removeAll(txn: Transaction, mailboxId: number): Promise<void> {
    const list = await this.list(mailboxId);
    for (const message of list.all()) {
      txn.del(this.sub.message, messageKey(mailboxId, message.uid));
      this.blobs.dropRef(txn, message.blobId);
    }
    txn.afterCommit(() => this.lists.delete(mailboxId));
  }

  /** Keywords (lower case) that flag changes of this transaction gave to messages of a mailbox. */
  private keywordsGiven(txn: Transaction, mailboxId: number): Set<string> {
    const byMailbox = txn.state(this, () => new Map<number, Set<string>>());
    let given = byMailbox.get(mailboxId);
    if (!given) byMailbox.set(mailboxId, (given = new Set()));
    return given;
  }

  private put(txn: Transaction, mailboxId: number, record: MessageRecord): void {
    const value: StoredMessage = [record.blobId, record.flags, record.internalDate, record.size, record.modseq];
    if (record.uidl !== undefined) value.push(record.uidl);
    txn.put(this.sub.message, messageKey(mailboxId, record.uid), value);
  }

  /**
   * Adds a message: the next UID and a new mod-sequence of the mailbox. The mailbox's list must have
   * been read in this operation (see `list`), so that it is updated after commit.
   */
  add(txn: Transaction, mailbox: MailboxRecord, blob: BlobRef, options: AppendOptions): MessageRecord {
    const pending = this.mailboxes.pending(txn, mailbox);
    const uid = pending.uidNext++;
    const modseq = ++pending.highestModseq;
    const flags = this.flagSets.intern(normalizeFlags(options.flags ?? []));
    const record = messageRecord(uid, blob.id, flags, options.internalDate ?? Date.now(), blob.size, modseq, options.uidl);
    this.put(txn, mailbox.id, record);
    this.blobs.addRef(txn, blob);
    txn.afterCommit(() => this.lists.get(mailbox.id)?.append(record));
    txn.announce({ kind: 'message-added', mailboxId: mailbox.id, uid, modseq });
    return record;
  }

  /**
   * Gives the messages of these mailboxes that came from POP3 under an old UIDL the new one (the ledger
   * entry was renamed); nothing an IMAP client sees changes, so no mod-sequence does.
   */
  async renameUidls(txn: Transaction, mailboxIds: readonly number[], renamed: ReadonlyMap<string, string>): Promise<void> {
    for (const mailboxId of mailboxIds) {
      const list = await this.list(mailboxId);
      for (const message of list.all()) {
        const to = message.uidl === undefined ? undefined : renamed.get(message.uidl);
        if (to === undefined) continue;
        const record: MessageRecord = { ...message, uidl: to };
        this.put(txn, mailboxId, record);
        txn.afterCommit(() => list.replace(record));
      }
    }
  }

  /**
   * COPY: adds copies of the source messages to the target, with their flags and dates; returns
   * [sourceUid, targetUid] pairs (COPYUID). The source still references each blob (a MOVE drops that
   * reference in the same batch), so no bytes are read.
   */
  async copy(
    txn: Transaction,
    sourceId: number,
    uids: readonly number[],
    target: MailboxRecord,
    options: { keepUidl?: boolean } = {},
  ): Promise<Array<[number, number]>> {
    const source = await this.list(sourceId);
    await this.list(target.id);
    const pairs: Array<[number, number]> = [];
    for (const uid of uids) {
      const message = source.get(uid);
      if (!message) continue;
      const uidl = options.keepUidl ? message.uidl : undefined;
      const copy = this.add(
        txn,
        target,
        { id: message.blobId, size: message.size },
        { flags: message.flags, internalDate: message.internalDate, uidl },
      );
      pairs.push([uid, copy.uid]);
    }
    return pairs;
  }

  /** MOVE (RFC 6851): copy and expunge in one transaction. */
  async move(txn: Transaction, sourceId: number, uids: readonly number[], target: MailboxRecord): Promise<Array<[number, number]>> {
    // A moved message keeps its POP3 origin: filing a message away is not deleting it (delete_on_expunge).
    const pairs = await this.copy(txn, sourceId, uids, target, { keepUidl: true });
    await this.expunge(
      txn,
      sourceId,
      pairs.map(([uid]) => uid),
    );
    return pairs;
  }

  /**
   * EXPUNGE: removes the messages (a blob goes when its last reference does) and records the expunge in
   * the QRESYNC history. Returns the UIDs removed and the POP3 UIDLs those messages came from.
   */
  async expunge(txn: Transaction, mailboxId: number, uids: readonly number[]): Promise<{ removed: number[]; uidls: string[] }> {
    const mailbox = this.mailboxes.require(mailboxId);
    const list = await this.list(mailboxId);
    const removed: number[] = [];
    const uidls: string[] = [];
    for (const uid of uids) {
      const message = list.get(uid);
      if (!message) continue;
      txn.del(this.sub.message, messageKey(mailboxId, uid));
      this.blobs.dropRef(txn, message.blobId);
      removed.push(uid);
      if (message.uidl !== undefined) uidls.push(message.uidl);
    }
    if (removed.length === 0) return { removed, uidls };
    const pending = this.mailboxes.pending(txn, mailbox);
    const modseq = ++pending.highestModseq;
    await this.history.record(txn, pending, { modseq, ranges: rangesOf(removed) });
    txn.afterCommit(() => list.remove(removed));
    txn.announce({ kind: 'messages-expunged', mailboxId, uids: removed, modseq });
    return { removed, uidls };
  }

  /**
   * STORE: changes flags of the given UIDs. Messages whose flags do not change keep their mod-sequence.
   * With `unchangedSince` (RFC 7162 §3.1.3), messages modified after it are left alone and reported.
   * A change over a keyword limit throws KeywordLimitError and changes nothing.
   */
  async storeFlags(
    txn: Transaction,
    mailboxId: number,
    uids: readonly number[],
    mode: FlagChange,
    wanted: readonly string[],
    options: { unchangedSince?: number },
  ): Promise<{ changed: MessageRecord[]; modifiedSince: number[] }> {
    const mailbox = this.mailboxes.require(mailboxId);
    const list = await this.list(mailboxId);
    const changed: MessageRecord[] = [];
    const modifiedSince: number[] = [];
    let pending: MailboxRecord | undefined;
    let mailboxKeywordsChecked = false;
    for (const uid of uids) {
      const current = list.get(uid);
      if (!current) continue;
      if (options.unchangedSince !== undefined && current.modseq > options.unchangedSince) {
        modifiedSince.push(uid);
        continue;
      }
      const next = applyFlags(current.flags, mode, wanted);
      if (sameFlags(current.flags, next)) continue;
      // Keyword limits (keyword-limits.ts): refuse the whole STORE before anything is written.
      if (mode !== 'remove') {
        if (!mailboxKeywordsChecked) {
          // STOREs sharing this batch (transaction.ts) gave keywords the list does not show yet.
          const given = this.keywordsGiven(txn, mailboxId);
          checkMailboxKeywords(list.all(), wanted, given);
          for (const flag of wanted) if (isKeyword(flag)) given.add(flag.toLowerCase());
        }
        mailboxKeywordsChecked = true;
        checkMessageKeywords(next);
      }
      pending ??= this.mailboxes.pending(txn, mailbox);
      const updated: MessageRecord = { ...current, flags: this.flagSets.intern(next), modseq: ++pending.highestModseq };
      this.put(txn, mailboxId, updated);
      txn.afterCommit(() => list.replace(updated));
      txn.announce({ kind: 'flags-changed', mailboxId, uid, flags: next, modseq: updated.modseq });
      changed.push(updated);
    }
    return { changed, modifiedSince };
  }
}
