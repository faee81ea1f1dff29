/**
 * The store: the one LevelDB handle of the process and everything kept in it, put together from its
 * parts (mailboxes, subscriptions, messages, blobs and their indexes, the expunge history, the POP3 UIDL
 * ledger, the outbox). Each public operation here is one `WriteQueue.run`: the parts add to one
 * transaction, and the transaction commits once, as one `{ sync: true }` batch (transaction.ts).
 *
 * Mailbox metadata and the message list of each opened mailbox are kept in memory: the IMAP server reads
 * them on every command, and 100,000 records are a few tens of MB.
 */
import { indexMessage, type MessageIndex } from '../mime/index.js';
import { blobIdOf, Blobs } from './blobs.js';
import { ChangeFeed } from './changes.js';
import { openDatabase, type Database } from './database.js';
import { StoreError } from './errors.js';
import { ExpungeHistory, VANISHED_HISTORY_LIMIT, type VanishedAnswer } from './expunge-history.js';
import { normalizeFlags, type FlagChange } from './flags.js';
import { DEFAULT_MAILBOXES, Mailboxes } from './mailboxes.js';
import { MessageIndexes } from './message-indexes.js';
import { Messages, type AppendOptions, type PreparedMessage, type StoreFlagsOptions } from './messages.js';
import { runMigrations } from './migrations.js';
import { Outbox } from './outbox.js';
import type { MailboxRecord, MessageRecord, NewOutboxEntry, OutboxEntry, Pop3LedgerEntry, SpecialUse } from './records.js';
import { Subscriptions } from './subscriptions.js';
import { WriteQueue } from './transaction.js';
import { UidlLedger } from './uidl-ledger.js';

export { StoreError } from './errors.js';
export { DEFAULT_MAILBOXES, HIERARCHY_DELIMITER } from './mailboxes.js';
export { normalizeFlags } from './flags.js';
export { VANISHED_HISTORY_LIMIT, type VanishedAnswer } from './expunge-history.js';
export type { AppendOptions } from './messages.js';

export interface IngestItem {
  uidl: string;
  raw: Buffer;
  internalDate?: number;
}

/** A message the outbox places in one of the user's mailboxes (a bounce, a Sent copy). */
export interface Delivery {
  mailboxId: number;
  raw: Buffer;
  flags?: string[];
}

export interface OpenOptions {
  /** For tests and tools: skip creating the default mailboxes for these accounts. */
  accounts?: string[];
  /** UID ranges of expunge history kept per mailbox (QRESYNC); default VANISHED_HISTORY_LIMIT. */
  vanishedHistoryLimit?: number;
}

/** Hashing and indexing happen before the write queue, so they never hold other writers up. */
function prepareDeliveries(deliveries: Delivery[]): PreparedMessage[] {
  return deliveries.map(({ mailboxId, raw, flags }) => ({ mailboxId, flags, blob: { id: blobIdOf(raw), size: raw.length, raw, index: indexMessage(raw) } }));
}

export class Store {
  readonly changes = new ChangeFeed();
  readonly dataDir: string;
  private readonly queue: WriteQueue;
  private readonly mailboxes: Mailboxes;
  private readonly subscriptions: Subscriptions;
  private readonly indexes: MessageIndexes;
  private readonly blobs: Blobs;
  private readonly history: ExpungeHistory;
  private readonly messages: Messages;
  private readonly ledger: UidlLedger;
  private readonly outbox: Outbox;
  private closed = false;

  private constructor(
    private readonly database: Database,
    vanishedLimit: number,
  ) {
    const { sub } = database;
    this.dataDir = database.dataDir;
    this.queue = new WriteQueue(database.db, this.changes);
    this.mailboxes = new Mailboxes(sub);
    this.subscriptions = new Subscriptions(sub);
    this.indexes = new MessageIndexes(sub, this.queue);
    this.blobs = new Blobs(sub, this.indexes);
    this.history = new ExpungeHistory(sub, vanishedLimit);
    this.messages = new Messages(sub, this.mailboxes, this.blobs, this.history);
    this.ledger = new UidlLedger(sub);
    this.outbox = new Outbox(sub, this.blobs);
  }

  /** Opens (creating when new) the store of a data dir. One open per data dir per process. */
  static async open(dataDir: string, options: OpenOptions = {}): Promise<Store> {
    const database = await openDatabase(dataDir);
    const store = new Store(database, options.vanishedHistoryLimit ?? VANISHED_HISTORY_LIMIT);
    try {
      await runMigrations(database.db);
      await store.mailboxes.load();
      for (const account of options.accounts ?? []) await store.ensureAccount(account);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
    await this.database.close();
  }

  /** The content hash that names a blob. */
  static blobIdOf(raw: Buffer): string {
    return blobIdOf(raw);
  }

  // ---------------------------------------------------------------- mailboxes

  /** Creates the default folders of an account that has none yet. */
  ensureAccount(account: string): Promise<void> {
    const owner = account.toLowerCase();
    return this.queue.run(async (txn) => {
      for (const folder of DEFAULT_MAILBOXES) {
        if (!this.mailboxes.find(owner, folder.name)) this.messages.created(txn, this.mailboxes.add(txn, owner, folder.name, folder.specialUse).id);
        if (!(await this.subscriptions.has(owner, folder.name))) this.subscriptions.set(txn, owner, folder.name, true);
      }
    });
  }

  /** All mailboxes of an account, sorted by name (INBOX first). */
  listMailboxes(account: string): MailboxRecord[] {
    return this.mailboxes.list(account);
  }

  /** The accounts that have mailboxes in this store. */
  listAccounts(): string[] {
    return this.mailboxes.accounts();
  }

  /** Finds a mailbox by name; INBOX matches case-insensitively (RFC 3501 §5.1). */
  findMailbox(account: string, name: string): MailboxRecord | undefined {
    return this.mailboxes.find(account, name);
  }

  getMailbox(mailboxId: number): MailboxRecord | undefined {
    return this.mailboxes.get(mailboxId);
  }

  createMailbox(account: string, name: string, specialUse?: SpecialUse): Promise<MailboxRecord> {
    const owner = account.toLowerCase();
    return this.queue.run((txn) => {
      if (this.mailboxes.find(owner, name)) throw new StoreError('ALREADYEXISTS', `mailbox ${name} already exists`);
      const record = this.mailboxes.add(txn, owner, name, specialUse);
      this.messages.created(txn, record.id);
      return record;
    });
  }

  /** Deletes a mailbox and its messages. INBOX cannot be deleted (RFC 3501 §6.3.4). */
  deleteMailbox(mailboxId: number): Promise<void> {
    return this.queue.run(async (txn) => {
      const record = this.mailboxes.require(mailboxId);
      if (record.name === 'INBOX') throw new StoreError('CANNOT', 'INBOX cannot be deleted');
      await this.messages.removeAll(txn, mailboxId);
      this.mailboxes.remove(txn, record);
      await this.history.removeAll(txn, mailboxId);
    });
  }

  /**
   * Renames a mailbox and every mailbox below it in the hierarchy (RFC 3501 §6.3.5). UIDVALIDITY is kept:
   * the messages and their UIDs do not change. Renaming INBOX moves its messages to a new mailbox and
   * leaves INBOX empty.
   */
  renameMailbox(account: string, oldName: string, newName: string): Promise<void> {
    const owner = account.toLowerCase();
    return this.queue.run(async (txn) => {
      const source = this.mailboxes.find(owner, oldName);
      if (!source) throw new StoreError('NONEXISTENT', `mailbox ${oldName} does not exist`);
      if (this.mailboxes.find(owner, newName)) throw new StoreError('ALREADYEXISTS', `mailbox ${newName} already exists`);
      if (source.name !== 'INBOX') return this.mailboxes.renameTree(txn, source, newName);
      const target = this.mailboxes.add(txn, owner, newName);
      this.messages.created(txn, target.id);
      const uids = (await this.messages.list(source.id)).all().map((message) => message.uid);
      await this.messages.move(txn, source.id, uids, target);
    });
  }

  /** Subscribed names of an account (they may name mailboxes that no longer exist, RFC 3501 §6.3.6). */
  listSubscriptions(account: string): Promise<string[]> {
    return this.subscriptions.list(account.toLowerCase());
  }

  setSubscribed(account: string, name: string, subscribed: boolean): Promise<void> {
    return this.queue.run((txn) => this.subscriptions.set(txn, account.toLowerCase(), name, subscribed));
  }

  // ---------------------------------------------------------------- messages

  /** The messages of a mailbox in UID order (a live, read-only view: do not modify). */
  async listMessages(mailboxId: number): Promise<readonly MessageRecord[]> {
    this.mailboxes.require(mailboxId);
    return (await this.messages.list(mailboxId)).all();
  }

  /** The raw bytes of a message, exactly as received. */
  getBlob(blobId: string): Promise<Buffer> {
    return this.blobs.get(blobId);
  }

  /** The index of a message without its body text (see getIndexes). */
  async getIndex(blobId: string, options: { text?: boolean } = {}): Promise<MessageIndex> {
    const [index] = await this.indexes.read([blobId], options);
    if (!index) throw new StoreError('NONEXISTENT', `blob ${blobId} is missing`);
    return index;
  }

  /**
   * The parsed indexes of many messages in one read (undefined where a blob is gone). Without
   * `text: true` the body text is left out (`text` is empty): ENVELOPE, BODYSTRUCTURE and header searches
   * never need it, and it is most of the bytes. Indexes made by an older indexer are recomputed and stored.
   */
  getIndexes(blobIds: readonly string[], options: { text?: boolean } = {}): Promise<Array<MessageIndex | undefined>> {
    return this.indexes.read(blobIds, options);
  }

  /** IMAP APPEND (and bounces, notices, Sent copies): one durable batch, returns the new UID. */
  appendMessage(mailboxId: number, raw: Buffer, options: AppendOptions = {}): Promise<{ uid: number; uidValidity: number }> {
    const blob = { id: blobIdOf(raw), size: raw.length, raw, index: indexMessage(raw) };
    return this.queue.run(async (txn) => {
      const mailbox = this.mailboxes.require(mailboxId);
      await this.messages.list(mailboxId);
      const record = this.messages.add(txn, mailbox, blob, options);
      return { uid: record.uid, uidValidity: mailbox.uidValidity };
    });
  }

  /**
   * STORE: changes flags of the given UIDs. Messages whose flags do not change keep their mod-sequence.
   * With `unchangedSince` (RFC 7162 §3.1.3), messages modified after it are left alone and reported.
   * A change over a keyword limit throws KeywordLimitError and changes nothing.
   */
  storeFlags(
    mailboxId: number,
    uids: readonly number[],
    mode: FlagChange,
    flags: readonly string[],
    options: StoreFlagsOptions = {},
  ): Promise<{ changed: MessageRecord[]; modifiedSince: number[] }> {
    const wanted = normalizeFlags(flags);
    return this.queue.run((txn) => this.messages.storeFlags(txn, mailboxId, uids, mode, wanted, options));
  }

  /** COPY: the same blobs, new UIDs in the target; returns [sourceUid, targetUid] pairs for COPYUID. */
  copyMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }> {
    return this.queue.run(async (txn) => {
      const target = this.mailboxes.require(targetId);
      this.mailboxes.require(sourceId);
      const pairs = await this.messages.copy(txn, sourceId, uids, target);
      return { uidValidity: target.uidValidity, pairs };
    });
  }

  /** MOVE (RFC 6851): copy and expunge in one atomic batch. */
  moveMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }> {
    return this.queue.run(async (txn) => {
      const target = this.mailboxes.require(targetId);
      const pairs = await this.messages.move(txn, sourceId, uids, target);
      return { uidValidity: target.uidValidity, pairs };
    });
  }

  /**
   * EXPUNGE / UID EXPUNGE: removes the messages; a blob goes when its last reference does. Messages the
   * poller fetched are marked in the UIDL ledger as expunged locally (delete_on_expunge).
   */
  expungeMessages(mailboxId: number, uids: readonly number[]): Promise<number[]> {
    return this.queue.run(async (txn) => {
      const { removed, uidls } = await this.messages.expunge(txn, mailboxId, uids);
      if (uidls.length > 0) await this.ledger.markExpungedLocally(txn, this.mailboxes.require(mailboxId).account, uidls, Date.now());
      return removed;
    });
  }

  /**
   * QRESYNC (RFC 7162 §3.2.5.1, §3.2.6): the UIDs expunged from a mailbox after mod-sequence `modseq`.
   * Not `complete` when the history has been trimmed past that point.
   */
  vanishedSince(mailboxId: number, modseq: number): Promise<VanishedAnswer> {
    return this.history.since(this.mailboxes.require(mailboxId), modseq);
  }

  // ---------------------------------------------------------------- POP3

  /**
   * Invariant 1: the poller's ingest. Blob, index, INBOX message (next UID) and the UIDL mark go in one
   * `{ sync: true }` batch; only after this resolves may the poller send DELE. A UIDL already in the
   * ledger is skipped, so a message is never stored twice.
   */
  ingestPop3(account: string, items: IngestItem[]): Promise<Array<{ uidl: string; uid?: number; duplicate: boolean }>> {
    const owner = account.toLowerCase();
    const prepared = items.map((item) => ({ ...item, blobId: blobIdOf(item.raw), index: indexMessage(item.raw) }));
    return this.queue.run(async (txn) => {
      const inbox = this.mailboxes.find(owner, 'INBOX');
      if (!inbox) throw new StoreError('NONEXISTENT', `account ${owner} has no INBOX`);
      await this.messages.list(inbox.id);
      const ledger = await this.ledger.entries(owner);
      const results: Array<{ uidl: string; uid?: number; duplicate: boolean }> = [];
      const seen = new Set<string>();
      for (const item of prepared) {
        if (ledger.has(item.uidl) || seen.has(item.uidl)) {
          results.push({ uidl: item.uidl, duplicate: true });
          continue;
        }
        seen.add(item.uidl);
        const blob = { id: item.blobId, size: item.raw.length, raw: item.raw, index: item.index };
        const record = this.messages.add(txn, inbox, blob, { internalDate: item.internalDate, uidl: item.uidl });
        await this.ledger.recordFetched(txn, owner, { uidl: item.uidl, blobId: item.blobId, fetchedAt: Date.now() });
        results.push({ uidl: item.uidl, uid: record.uid, duplicate: false });
      }
      return results;
    });
  }

  /** The POP3 UIDL ledger of an account: every UIDL ever fetched (live view: do not modify). */
  pop3Ledger(account: string): Promise<ReadonlyMap<string, Pop3LedgerEntry>> {
    return this.ledger.entries(account.toLowerCase());
  }

  /** Records that upstream copies are gone (after the QUIT that made DELE final). */
  markDeletedUpstream(account: string, uidls: string[]): Promise<void> {
    return this.queue.run((txn) => this.ledger.markDeletedUpstream(txn, account.toLowerCase(), uidls, Date.now()));
  }

  /** Forgets UIDLs the server no longer lists, so the ledger does not grow forever. */
  forgetUidls(account: string, uidls: string[]): Promise<void> {
    return this.queue.run((txn) => this.ledger.forget(txn, account.toLowerCase(), uidls));
  }

  // ---------------------------------------------------------------- outbox

  /**
   * Invariant 2: a submission. Blob and outbox entry go in one `{ sync: true }` batch; only after this
   * resolves may the SMTP client get its 250.
   */
  enqueueOutbox(entry: NewOutboxEntry, raw: Buffer): Promise<OutboxEntry> {
    const blob = { id: blobIdOf(raw), size: raw.length, raw, index: indexMessage(raw) };
    return this.queue.run((txn) => this.outbox.enqueue(txn, entry, blob));
  }

  /** Every queued submission, oldest first (optionally of one account). */
  listOutbox(account?: string): Promise<OutboxEntry[]> {
    return this.outbox.list(account);
  }

  /**
   * Saves the worker's progress on an entry (attempts, recipients done, next try, last error). Optional
   * `deliveries` (a partial bounce for recipients refused in this attempt) go in the same batch, so the
   * bounce exists exactly when the refusal is recorded: never lost, never twice.
   */
  updateOutbox(entry: OutboxEntry, deliveries: Delivery[] = []): Promise<void> {
    const prepared = prepareDeliveries(deliveries);
    return this.queue.run(async (txn) => {
      await this.messages.place(txn, prepared);
      this.outbox.update(txn, entry);
    });
  }

  /**
   * Takes an entry out of the queue; in the same batch, optionally places messages for the user (a bounce
   * in INBOX, a copy in Sent), so a crash can neither lose the bounce nor deliver it twice.
   */
  finishOutbox(entryId: string, deliveries: Delivery[] = []): Promise<void> {
    const prepared = prepareDeliveries(deliveries);
    return this.queue.run(async (txn) => {
      const entry = await this.outbox.get(entryId);
      if (!entry) return;
      await this.messages.place(txn, prepared);
      this.outbox.finish(txn, entry);
    });
  }

  // ---------------------------------------------------------------- small metadata

  /** A small JSON value kept with the mail (one-time notices, sync progress worth keeping). */
  async getMeta<T>(key: string): Promise<T | undefined> {
    return (await this.database.sub.meta.get(`app:${key}`)) as T | undefined;
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.queue.run((txn) => txn.put(this.database.sub.meta, `app:${key}`, value));
  }
}
