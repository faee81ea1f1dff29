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
import type { BlobSpool, SpooledBlob } from './blob-chunks.js';
import { BlobChunks } from './blob-chunks.js';
import { BlobRetention } from './blob-retention.js';
import { hasStoredBlob } from './blob-read.js';
import { blobIdOf, Blobs, type BlobRef } from './blobs.js';
import { ChangeFeed } from './changes.js';
import { openDatabase, type Database } from './database.js';
import type {
  CopyResult,
  Delivery,
  FlagStoreResult,
  ImapStore,
  IngestItem,
  IngestResult,
  MailboxRename,
  PollerStore,
  RelayStore,
  SubmissionStore,
} from './doors.js';
import { StoreError } from './errors.js';
import { ExpungeHistory, VANISHED_HISTORY_LIMIT, type VanishedAnswer } from './expunge-history.js';
import { normalizeFlags, type FlagChange } from './flags.js';
import { DEFAULT_MAILBOXES, HIERARCHY_DELIMITER, Mailboxes } from './mailboxes.js';
import { MessageIndexes } from './message-indexes.js';
import { Messages, type AppendOptions } from './messages.js';
import { blobTouches, expungeTouches, messageTouches } from './touches.js';
import { runMigrations } from './migrations.js';
import { Outbox } from './outbox.js';
import type { MailboxRecord, MessageRecord, NewOutboxEntry, OutboxEntry, Pop3LedgerEntry, SpecialUse } from './records.js';
import { Subscriptions } from './subscriptions.js';
import { ImportStaging, type ImportItem } from './import-staging.js';
import type { Transaction } from './transaction.js';
import { WriteQueue } from './transaction.js';
import { WriteRecovery, type StoreHealth } from './write-recovery.js';
import { explainFault } from './store-health.js';
import { backupDatabase, type BackupReport } from './backup.js';
import { LOST_UIDLS_META } from './repair.js';
import { verifyDatabase, type VerifyOptions, type VerifyReport } from './verify.js';
import { UidlLedger, type UidlLedgerView } from './uidl-ledger.js';

export interface OpenOptions {
  /** For tests and tools: skip creating the default mailboxes for these accounts. */
  accounts?: string[];
  /** UID ranges of expunge history kept per mailbox (QRESYNC); default VANISHED_HISTORY_LIMIT. */
  vanishedHistoryLimit?: number;
  /**
   * Table files LevelDB keeps open (and memory-mapped, which counts in the RSS); the daemon's default suits
   * random reads. One-shot commands that read the store through once (backup, export) need fewer.
   */
  maxOpenTables?: number;
}

/** A delivery hashed and indexed before the write queue, so that work never holds other writers up. */
interface PreparedDelivery {
  mailbox: Delivery['mailbox'];
  flags?: string[];
  blob: { id: string; size: number; raw: Buffer; index: MessageIndex };
}

function prepareDeliveries(deliveries: Delivery[]): PreparedDelivery[] {
  return deliveries.map(({ mailbox, raw, flags }) => ({
    mailbox,
    flags,
    blob: { id: blobIdOf(raw), size: raw.length, raw, index: indexMessage(raw) },
  }));
}

/** The one store of the process; the daemon hands each part its door (doors.ts). */
export class Store implements ImapStore, PollerStore, SubmissionStore, RelayStore {
  readonly changes = new ChangeFeed();
  readonly dataDir: string;
  /** What opening did besides opening (finishing a restore a crash interrupted), for the log. */
  readonly openNotices: readonly string[];
  private readonly queue: WriteQueue;
  private readonly mailboxes: Mailboxes;
  private readonly subscriptions: Subscriptions;
  private readonly indexes: MessageIndexes;
  private readonly blobs: Blobs;
  private readonly retention: BlobRetention;
  private readonly history: ExpungeHistory;
  private readonly messages: Messages;
  private readonly ledger: UidlLedger;
  private readonly outbox: Outbox;
  private readonly recovery: WriteRecovery;
  private readonly staging: ImportStaging;
  private closed = false;

  private constructor(
    private readonly database: Database,
    vanishedLimit: number,
  ) {
    const { sub } = database;
    this.dataDir = database.dataDir;
    this.openNotices = (database as Database & { notices?: string[] }).notices ?? [];
    this.recovery = new WriteRecovery(database, this.changes);
    this.queue = new WriteQueue(database.db, this.changes, this.recovery);
    this.recovery.attach(this.queue);
    this.mailboxes = new Mailboxes(sub);
    this.subscriptions = new Subscriptions(sub);
    this.indexes = new MessageIndexes(sub, this.queue, (blobId) => this.blobs.find(blobId));
    const chunks = new BlobChunks(sub, this.queue);
    this.retention = new BlobRetention(sub, this.indexes, this.queue, chunks);
    this.blobs = new Blobs(sub, this.indexes, this.retention, chunks);
    this.history = new ExpungeHistory(sub, vanishedLimit);
    this.messages = new Messages(sub, this.mailboxes, this.blobs, this.history);
    this.ledger = new UidlLedger(sub);
    this.outbox = new Outbox(sub, this.blobs);
    this.staging = new ImportStaging(sub, this.blobs);
  }

  /** Opens (creating when new) the store of a data dir. One open per data dir per process. */
  static async open(dataDir: string, options: OpenOptions = {}): Promise<Store> {
    const database = await openDatabase(dataDir, options.maxOpenTables !== undefined ? { maxOpenTables: options.maxOpenTables } : {});
    const store = new Store(database, options.vanishedHistoryLimit ?? VANISHED_HISTORY_LIMIT);
    try {
      await runMigrations(database.db);
      // Chunk sets of large messages that a crash left half-written or never committed (blob-chunks.ts).
      await store.blobs.chunks.removeAbandoned();
      await store.mailboxes.load();
      await store.discardInterruptedImports();
      await store.retention.collectLeftovers();
      for (const account of options.accounts ?? []) await store.ensureAccount(account);
    } catch (err) {
      await store.close();
      // A table LevelDB cannot read shows up here, on the first reads: say what it is and what to do.
      throw explainFault(err, database.dataDir, database.location) ?? err;
    }
    return store;
  }

  /**
   * Resolves once every write queued so far has finished, including the deletion of blobs that lost their
   * last reference and that no reader retains (blob-retention.ts).
   */
  settled(): Promise<void> {
    return this.queue.run(() => undefined, { durability: 'process' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.recovery.close();
    await this.queue.close();
    await this.database.close();
  }

  /** The content hash that names a blob. */
  static blobIdOf(raw: Buffer): string {
    return blobIdOf(raw);
  }

  /** Whether the store can write, and if not, why (a full disk, damage, permissions) and since when. */
  health(): StoreHealth {
    return this.recovery.health();
  }

  /** Hears of every change in health: a fault, and the recovery from it (the daemon then wakes its workers). */
  onHealth(listener: (health: StoreHealth) => void): () => void {
    return this.recovery.onHealth(listener);
  }

  // ---------------------------------------------------------------- mailboxes

  /** Creates the default folders of an account that has none yet. */
  ensureAccount(account: string): Promise<void> {
    const owner = account.toLowerCase();
    return this.queue.run(async (txn) => {
      for (const folder of DEFAULT_MAILBOXES) {
        if (!this.mailboxes.find(owner, folder.name)) this.addMailbox(txn, owner, folder.name, folder.specialUse);
        if (!(await this.subscriptions.has(owner, folder.name))) this.subscriptions.set(txn, owner, folder.name, true);
      }
    });
  }

  private addMailbox(txn: Transaction, account: string, name: string, specialUse?: SpecialUse): MailboxRecord {
    const record = this.mailboxes.add(txn, account, name, specialUse);
    this.messages.created(txn, record.id);
    return record;
  }

  /** One of an account's default mailboxes, made again (subscribed) in this transaction if it is gone. */
  private async defaultMailbox(txn: Transaction, account: string, name: string): Promise<MailboxRecord> {
    const found = this.mailboxes.find(account, name, txn);
    if (found) return found;
    const folder = DEFAULT_MAILBOXES.find((candidate) => candidate.name === name);
    const record = this.addMailbox(txn, account, name, folder?.specialUse);
    this.subscriptions.set(txn, account, name, true);
    return record;
  }

  listMailboxes(account: string): MailboxRecord[] {
    return this.mailboxes.list(account);
  }

  listAccounts(): string[] {
    return this.mailboxes.accounts();
  }

  findMailbox(account: string, name: string): MailboxRecord | undefined {
    return this.mailboxes.find(account, name);
  }

  getMailbox(mailboxId: number): MailboxRecord | undefined {
    return this.mailboxes.get(mailboxId);
  }

  createMailbox(account: string, name: string, specialUse?: SpecialUse): Promise<MailboxRecord> {
    const owner = account.toLowerCase();
    return this.queue.run((txn) => {
      if (this.mailboxes.find(owner, name)) throw new StoreError('exists', `mailbox ${name} already exists`);
      return this.addMailbox(txn, owner, name, specialUse);
    });
  }

  /** Deletes a mailbox and its messages. INBOX cannot be deleted (RFC 3501 §6.3.4). */
  deleteMailbox(mailboxId: number): Promise<void> {
    return this.queue.run(async (txn) => {
      const record = this.mailboxes.require(mailboxId);
      if (record.name === 'INBOX') throw new StoreError('not-allowed', 'INBOX cannot be deleted');
      await this.messages.removeAll(txn, mailboxId);
      this.mailboxes.remove(txn, record);
      await this.history.removeAll(txn, mailboxId);
    });
  }

  /**
   * Renames mailboxes in one batch (the caller names the ones below, as its hierarchy has them).
   * UIDVALIDITY is kept: the messages and their UIDs do not change. Renaming INBOX moves its messages
   * to a new mailbox and leaves INBOX empty (RFC 3501 §6.3.5).
   */
  renameMailboxes(account: string, renames: readonly MailboxRename[]): Promise<void> {
    const owner = account.toLowerCase();
    return this.queue.run(async (txn) => {
      const planned = this.mailboxes.checkRenames(owner, renames);
      if (planned[0]?.record.name !== 'INBOX') return this.mailboxes.rename(txn, planned);
      const [{ record: inbox, name }] = planned;
      const target = this.addMailbox(txn, owner, name);
      const uids = (await this.messages.list(inbox.id)).all().map((message) => message.uid);
      await this.messages.move(txn, inbox.id, uids, target);
    });
  }

  listSubscriptions(account: string): Promise<string[]> {
    return this.subscriptions.list(account.toLowerCase());
  }

  setSubscribed(account: string, name: string, subscribed: boolean): Promise<void> {
    return this.queue.run((txn) => this.subscriptions.set(txn, account.toLowerCase(), name, subscribed));
  }

  // ---------------------------------------------------------------- messages

  async listMessages(mailboxId: number): Promise<readonly MessageRecord[]> {
    this.mailboxes.require(mailboxId);
    return (await this.messages.list(mailboxId)).all();
  }

  /** The messages of a mailbox, read a batch at a time and not kept in memory (export). */
  streamMessages(mailboxId: number): AsyncGenerator<MessageRecord[]> {
    this.mailboxes.require(mailboxId);
    return this.messages.stream(mailboxId);
  }

  /** The raw bytes of a message, exactly as received. */
  getBlob(blobId: string): Promise<Buffer> {
    return this.blobs.get(blobId);
  }

  /**
   * Keeps the bytes and index of these blobs readable until the returned function is called, even if
   * their messages are expunged meanwhile: a reader (an IMAP session) that still shows a message may still
   * read it (RFC 2180 §4.1). Deleting them then is up to the store (blob-retention.ts).
   */
  retainBlobs(blobIds: readonly string[]): () => void {
    return this.retention.retain(blobIds);
  }

  getIndexes(blobIds: readonly string[], options: { text?: boolean } = {}): Promise<Array<MessageIndex | undefined>> {
    return this.indexes.read(blobIds, options);
  }

  /** IMAP APPEND (and bounces, notices, Sent copies): one durable batch, returns the new UID and the blob's id. */
  appendMessage(
    mailboxId: number,
    raw: Buffer,
    options: AppendOptions = {},
  ): Promise<{ uid: number; uidValidity: number; blobId: string }> {
    const blob = { id: blobIdOf(raw), size: raw.length, raw, index: indexMessage(raw) };
    return this.queue.run(
      async (txn) => {
        const mailbox = this.mailboxes.require(mailboxId);
        await this.messages.list(mailboxId);
        const record = this.messages.add(txn, mailbox, blob, options);
        // A message a client has just put in a mailbox is read soon (another session's FETCH ENVELOPE).
        txn.afterCommit(() => this.indexes.remember(blob.id, blob.index));
        return { uid: record.uid, uidValidity: mailbox.uidValidity, blobId: blob.id };
      },
      { touches: blobTouches([blob.id]) },
    );
  }

  /**
   * STORE: changes flags of the given UIDs. Messages whose flags do not change keep their mod-sequence.
   * With `unchangedSince` (RFC 7162 §3.1.3), messages modified after it are left alone and reported.
   * A change over a keyword limit throws KeywordLimitError (`limit`) and changes nothing.
   */
  storeFlags(
    mailboxId: number,
    uids: readonly number[],
    mode: FlagChange,
    flags: readonly string[],
    options: { unchangedSince?: number } = {},
  ): Promise<FlagStoreResult> {
    const wanted = normalizeFlags(flags);
    // Not fsynced (transaction.ts, "Two strengths"): a flag change loses no mail, and STORE is the
    // commonest write of all; it survives the daemon being killed, and the next synced batch makes it durable.
    return this.queue.run((txn) => this.messages.storeFlags(txn, mailboxId, uids, mode, wanted, options), {
      durability: 'process',
      touches: messageTouches(mailboxId, uids),
    });
  }

  /** COPY: the same blobs, new UIDs in the target; returns [sourceUid, targetUid] pairs for COPYUID. */
  copyMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<CopyResult> {
    return this.queue.run(async (txn) => {
      const target = this.mailboxes.require(targetId);
      this.mailboxes.require(sourceId);
      const pairs = await this.messages.copy(txn, sourceId, uids, target);
      return { uidValidity: target.uidValidity, pairs };
    });
  }

  /** MOVE (RFC 6851): copy and expunge in one atomic batch. */
  moveMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<CopyResult> {
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
    // Not fsynced: a power cut right after it can only bring the messages back, never lose one (were the
    // provider's copy deleted meanwhile, delete_on_expunge, the local one is still here).
    return this.queue.run(
      async (txn) => {
        const { removed, uidls } = await this.messages.expunge(txn, mailboxId, uids);
        if (uidls.length > 0) await this.ledger.markExpungedLocally(txn, this.mailboxes.require(mailboxId).account, uidls, Date.now());
        return removed;
      },
      { durability: 'process', touches: expungeTouches(mailboxId, uids) },
    );
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
  async ingestPop3(account: string, items: IngestItem[]): Promise<IngestResult[]> {
    const owner = account.toLowerCase();
    // Hashed and indexed before the write queue; a spooled message's chunks are read back for its index one
    // message at a time, so at most one whole copy is in memory.
    const prepared: Array<{ uidl: string; internalDate?: number; blob: BlobRef; spooled?: SpooledBlob }> = [];
    for (const item of items) {
      if (item.spooled) {
        const { id, size } = item.spooled;
        const index = await this.blobs.indexSpooled(item.spooled, item.bytes);
        prepared.push({
          uidl: item.uidl,
          internalDate: item.internalDate,
          blob: { id, size, spooled: item.spooled, ...(index ? { index } : {}) },
          spooled: item.spooled,
        });
      } else {
        prepared.push({
          uidl: item.uidl,
          internalDate: item.internalDate,
          blob: { id: blobIdOf(item.raw), size: item.raw.length, raw: item.raw, index: indexMessage(item.raw) },
        });
      }
    }
    const known = prepared.filter((item) => item.blob.index === undefined).map((item) => item.blob.id);
    const knownIndexes = new Map(known.length > 0 ? (await this.indexes.read(known)).map((index, i) => [known[i], index]) : []);
    return this.queue.run(async (txn) => {
      const inbox = this.mailboxes.find(owner, 'INBOX');
      if (!inbox) throw new StoreError('not-found', `account ${owner} has no INBOX`);
      await this.messages.list(inbox.id);
      const ledger = await this.ledger.view(owner);
      const results: IngestResult[] = [];
      const seen = new Set<string>();
      for (const item of prepared) {
        if (ledger.has(item.uidl) || seen.has(item.uidl)) {
          if (item.spooled) this.blobs.discardSpooled(txn, item.spooled);
          results.push({ uidl: item.uidl, duplicate: true });
          continue;
        }
        seen.add(item.uidl);
        const record = this.messages.add(txn, inbox, item.blob, { internalDate: item.internalDate, uidl: item.uidl });
        const entry: Pop3LedgerEntry = { uidl: item.uidl, blobId: item.blob.id, fetchedAt: Date.now(), size: item.blob.size };
        const messageId = (item.blob.index ?? knownIndexes.get(item.blob.id))?.envelope.messageId;
        if (messageId !== undefined) entry.messageId = messageId;
        await this.ledger.recordFetched(txn, owner, entry);
        results.push({ uidl: item.uidl, uid: record.uid, duplicate: false });
      }
      return results;
    });
  }

  /**
   * Starts writing a large message to disk as it arrives (blob-chunks.ts); the finished spool goes to
   * `ingestPop3` as `spooled`. Until then its chunks are no part of any message, and a crash leaves nothing
   * that the next open does not delete.
   */
  spoolBlob(): BlobSpool {
    return this.blobs.chunks.spool();
  }

  /** What chunk storage holds (spools in progress, chunked blobs, chunks, and stray chunks: must be 0). */
  chunkReport(): Promise<{ spools: number; chunkedBlobs: number; chunks: number; strayChunks: number }> {
    return this.blobs.chunkReport();
  }

  /**
   * Renames ledger entries (the server gave messages we hold new UIDLs), in one `{ sync: true }` batch, so
   * that they are neither fetched again nor deleted upstream before the rename is durable. Messages that
   * carry an old UIDL (for delete_on_expunge) carry the new one afterwards. Returns how many were renamed.
   */
  renamePop3Uidls(account: string, renames: ReadonlyArray<{ from: string; to: string }>): Promise<number> {
    const owner = account.toLowerCase();
    return this.queue.run(async (txn) => {
      const done = await this.ledger.rename(txn, owner, renames);
      if (done.size > 0)
        await this.messages.renameUidls(
          txn,
          this.mailboxes.list(owner).map((mailbox) => mailbox.id),
          done,
        );
      return done.size;
    });
  }

  uidlLedger(account: string): Promise<UidlLedgerView> {
    return this.ledger.view(account.toLowerCase());
  }

  markDeletedUpstream(account: string, uidls: string[]): Promise<void> {
    return this.queue.run((txn) => this.ledger.markDeletedUpstream(txn, account.toLowerCase(), uidls, Date.now()));
  }

  forgetUidls(account: string, uidls: string[]): Promise<void> {
    return this.queue.run((txn) => this.ledger.forget(txn, account.toLowerCase(), uidls));
  }

  // ---------------------------------------------------------------- outbox

  /**
   * Invariant 2: a submission. Blob and outbox entry go in one `{ sync: true }` batch; only after this
   * resolves may the SMTP client get its 250.
   */
  enqueueOutbox(entry: NewOutboxEntry, raw: Buffer): Promise<OutboxEntry> {
    // No MIME index: the outbox never searches its messages; a Sent copy gets one when it is placed.
    const blob = { id: blobIdOf(raw), size: raw.length, raw };
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
      await this.placeDeliveries(txn, entry.account, prepared);
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
      await this.placeDeliveries(txn, entry.account, prepared);
      this.outbox.finish(txn, entry);
    });
  }

  // ---------------------------------------------------------------- safety (verify.ts, backup.ts, repair.ts)

  /** `hotbridge verify` on the open store, from one snapshot (the daemon keeps serving meanwhile). */
  verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyDatabase(this.database, options);
  }

  /**
   * `hotbridge backup FILE` of the open store: one archive of one moment, read back before it returns.
   * `exclusive`: this process has the store to itself (no daemon), so the database may be reopened on the
   * way to keep the memory small (backup.ts); never while the daemon serves from it.
   */
  backup(file: string, header: { hotbridge?: string } = {}, options: { exclusive?: boolean } = {}): Promise<BackupReport> {
    if (!options.exclusive) return backupDatabase(this.database, file, header);
    return this.queue.run(() => backupDatabase(this.database, file, header, { exclusive: true }), { durability: 'process' });
  }

  /**
   * Closes and reopens LevelDB, which unmaps the table files it has read (they count in the RSS): for
   * one-pass readers that have the store to themselves (export with the daemon stopped). Under the write
   * queue; no read may be under way.
   */
  releaseTables(): Promise<void> {
    return this.queue.run(() => this.database.reopen(), { durability: 'process' });
  }

  /**
   * `hotbridge resync`: forgets the UIDLs of fetched messages that the last repair could not save (and that
   * the user did not delete), so that the poller fetches them again; what is still here keeps its UIDL and
   * is not fetched twice. Returns how many per account.
   */
  resyncLost(): Promise<Record<string, number>> {
    return this.queue.run(async (txn) => {
      const lost = ((await this.database.sub.meta.get(LOST_UIDLS_META)) ?? {}) as Record<string, string[]>;
      const forgotten: Record<string, number> = {};
      for (const [account, uidls] of Object.entries(lost)) {
        const ledger = await this.ledger.view(account);
        const gone: string[] = [];
        for (const uidl of uidls) {
          const entry = ledger.get(uidl);
          if (!entry || entry.expungedLocallyAt !== undefined || entry.deletedUpstreamAt !== undefined) continue;
          if (!(await hasStoredBlob(this.database.sub, entry.blobId))) gone.push(uidl);
        }
        await this.ledger.forget(txn, account, gone);
        forgotten[account] = gone.length;
      }
      txn.del(this.database.sub.meta, LOST_UIDLS_META);
      return forgotten;
    });
  }

  // ---------------------------------------------------------------- import (import-staging.ts)

  /** Stages prepared messages of an import: stored, but in no mailbox until `publishImport`. */
  stageImport(importId: string, first: number, items: readonly ImportItem[]): Promise<void> {
    // Not synced: the publishing batch is, and LevelDB's log makes everything before it durable with it.
    return this.queue.run((txn) => this.staging.stage(txn, importId, first, items), { durability: 'process' });
  }

  /**
   * Puts every staged message of an import into its mailbox (creating mailboxes and their parents as
   * needed, subscribed) in one durable batch. Returns the number of messages and the mailboxes created.
   */
  publishImport(importId: string): Promise<{ added: number; created: string[] }> {
    return this.queue.run(async (txn) => {
      const entries = await this.staging.entries(importId);
      const made = new Map<string, MailboxRecord>();
      for (const [, staged] of entries) {
        const mailbox = this.mailboxForImport(txn, staged.account, staged.mailbox, made);
        this.messages.add(
          txn,
          mailbox,
          { id: staged.blobId, size: staged.size },
          { flags: staged.flags, internalDate: staged.internalDate },
        );
      }
      this.staging.drop(txn, entries);
      return { added: entries.length, created: [...made.values()].map((record) => record.name) };
    });
  }

  /** Undoes an import that will not be finished: its staged messages and their blobs go. */
  discardImport(importId: string): Promise<void> {
    return this.queue.run(async (txn) => this.staging.drop(txn, await this.staging.entries(importId)));
  }

  private async discardInterruptedImports(): Promise<void> {
    const leftovers = await this.staging.all();
    if (leftovers.length > 0) await this.queue.run((txn) => this.staging.drop(txn, leftovers));
  }

  /** The mailbox an imported message goes in, created in this transaction (with its parents) when missing. */
  private mailboxForImport(txn: Transaction, account: string, name: string, made: Map<string, MailboxRecord>): MailboxRecord {
    const owner = account.toLowerCase();
    const levels = name.split(HIERARCHY_DELIMITER);
    let record: MailboxRecord | undefined;
    for (let i = 1; i <= levels.length; i++) {
      const path = levels.slice(0, i).join(HIERARCHY_DELIMITER);
      record = this.mailboxes.find(owner, path) ?? made.get(`${owner}\u0000${path}`);
      if (!record) {
        record = this.mailboxes.add(txn, owner, path);
        this.messages.created(txn, record.id);
        this.subscriptions.set(txn, owner, path, true);
        made.set(`${owner}\u0000${path}`, record);
      }
    }
    return record!;
  }

  /** Places bounces and Sent copies in the entry's account, inside the outbox operation's transaction. */
  private async placeDeliveries(txn: Transaction, account: string, prepared: PreparedDelivery[]): Promise<void> {
    for (const delivery of prepared) {
      const mailbox = await this.defaultMailbox(txn, account, delivery.mailbox);
      await this.messages.list(mailbox.id);
      this.messages.add(txn, mailbox, delivery.blob, { flags: delivery.flags });
    }
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

/** Open table files for commands that read the store through once (RSS: each is up to ~2 MB mapped). */
export const ONE_PASS_TABLES = 16;

/** `hotbridge verify` with the daemon stopped: opens the database alone (no mailbox is loaded, nothing is written). */
export async function verifyStoreAt(dataDir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const database = await openDatabase(dataDir, { maxOpenTables: ONE_PASS_TABLES });
  try {
    return await verifyDatabase(database, { ...options, exclusive: true });
  } finally {
    await database.close();
  }
}
