/**
 * The one LevelDB handle of the process and everything kept in it: mailboxes, messages, blobs, the
 * message index, the POP3 UIDL ledger, the outbox and small metadata.
 *
 * Every mutation runs through one queue (`exclusive`) and commits as one `{ sync: true }` batch, so a
 * reader never sees half a change and an acknowledged message survives a crash (ARCHITECTURE.md,
 * invariants 1 and 2). Mailbox metadata and the message list of each opened mailbox are kept in memory:
 * the IMAP server reads them on every command, and 100,000 records are a few tens of MB.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import { ChangeFeed, type StoreChange } from './changes.js';
import {
  mailboxKey,
  messageKey,
  messageRange,
  pop3Key,
  pop3Range,
  subscriptionKey,
  subscriptionRange,
  uidFromMessageKey,
  uidlFromPop3Key,
  modseqFromVanishedKey,
  vanishedKey,
  vanishedRange,
} from './keys.js';
import { checkMailboxKeywords, checkMessageKeywords } from './keyword-limits.js';
import { indexMessage, MESSAGE_INDEX_VERSION, type MessageIndex } from '../mime/index.js';
import { MessageList } from './message-list.js';
import { runMigrations } from './migrations.js';
import { flattenRanges, rangesOf, unflattenRanges, VanishedLog, type StoredRanges, type UidRanges, type VanishedEntry } from './vanished-log.js';
import type {
  MailboxRecord,
  MessageRecord,
  NewOutboxEntry,
  OutboxEntry,
  Pop3LedgerEntry,
  SpecialUse,
} from './records.js';

/** The folders every account gets on first open (RFC 6154 attributes on the special ones). */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse?: SpecialUse }> = [
  { name: 'INBOX' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
];

export const HIERARCHY_DELIMITER = '/';

/** A failed store operation the caller can explain to a client (IMAP NO, SMTP 4xx). */
export class StoreError extends Error {
  constructor(
    readonly code: 'NONEXISTENT' | 'ALREADYEXISTS' | 'CANNOT' | 'INUSE' | 'CLOSED',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Stored form of an index entry: the version lets a newer indexer recompute old entries lazily. */
interface StoredIndex {
  v: number;
  index: MessageIndex;
}

/** Compact stored form of a message: [blobId, flags, internalDate, size, modseq, uidl?]. */
type StoredMessage = [string, string[], number, number, number, string?];

// A batch op for any sublevel; the value is whatever that sublevel's encoding takes.
// `unknown` is not accepted by abstract-level's typings across sublevels with different encodings.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type BatchOp = { type: 'put'; sublevel: any; key: string; value: unknown } | { type: 'del'; sublevel: any; key: string };

/**
 * One transaction: the ops for one batch plus what to do in memory and on the change feed once the
 * batch is durable (never before: a crash must not leave memory ahead of disk).
 */
class Txn {
  readonly ops: BatchOp[] = [];
  readonly afterCommit: Array<() => void> = [];
  readonly changes: StoreChange[] = [];
  /** Refcount deltas per blob, settled once per transaction. */
  readonly blobDeltas = new Map<string, { delta: number; raw?: Buffer; index?: MessageIndex }>();
  /** Mailbox records this transaction changes (UIDNEXT, HIGHESTMODSEQ), swapped in after commit. */
  readonly mailboxes = new Map<number, MailboxRecord>();
}

/** A message's bytes as the store needs them to add a reference: raw only when the blob may be new. */
interface BlobRef {
  id: string;
  size: number;
  raw?: Buffer;
  index?: MessageIndex;
}

export interface AppendOptions {
  flags?: string[];
  internalDate?: number;
  uidl?: string;
}

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

interface PreparedDelivery {
  mailboxId: number;
  flags?: string[];
  blob: BlobRef;
}

/** Hashing and indexing happen before the write queue, so they never hold other writers up. */
function prepareDeliveries(deliveries: Delivery[]): PreparedDelivery[] {
  return deliveries.map(({ mailboxId, raw, flags }) => ({ mailboxId, flags, blob: { id: Store.blobIdOf(raw), size: raw.length, raw, index: indexMessage(raw) } }));
}

export interface OpenOptions {
  /** For tests and tools: skip creating the default mailboxes for these accounts. */
  accounts?: string[];
  /** UID ranges of expunge history kept per mailbox (QRESYNC); default VANISHED_HISTORY_LIMIT. */
  vanishedHistoryLimit?: number;
}

/**
 * How many UID ranges of expunge history each mailbox keeps for QRESYNC. One expunge of adjacent
 * messages is one range, so this is about the last 10,000 deletions of a client that removes one
 * message at a time; older ones collapse into the mailbox's `vanishedFloor` (RFC 7162 §5.3).
 */
export const VANISHED_HISTORY_LIMIT = 10_000;

/** What `Store.vanishedSince` knows. */
export interface VanishedAnswer {
  /** False when the history no longer reaches back to the mod-sequence asked about. */
  complete: boolean;
  /** With `complete`: the UIDs expunged after that mod-sequence, as ascending ranges. */
  ranges: UidRanges;
}

const openPaths = new Set<string>();

/**
 * How many parsed indexes (without body text, a few KB each) stay in memory: enough for the working set of
 * a busy mailbox's FETCH ENVELOPE and header SEARCH, small next to the RSS budget.
 */
const INDEX_CACHE_ENTRIES = 4096;

/** LevelDB's table cache (its default is 1000 files of ~2 MB, all memory-mapped once read). */
const MAX_OPEN_TABLE_FILES = 64;

export class Store {
  readonly changes = new ChangeFeed();
  private readonly mailboxes = new Map<number, MailboxRecord>();
  private readonly lists = new Map<number, MessageList>();
  private readonly ledgers = new Map<string, Map<string, Pop3LedgerEntry>>();
  private readonly blobRefs = new Map<string, number>();
  /** Parsed indexes without body text, least recently used first (see getIndexes). */
  private readonly indexCache = new Map<string, MessageIndex>();
  private readonly vanishedLogs = new Map<number, VanishedLog>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private lastUidValidity = 0;
  private nextMailboxId = 1;

  private readonly sub;

  private constructor(
    readonly dataDir: string,
    private readonly db: Level<string, unknown>,
    private readonly vanishedLimit: number,
  ) {
    this.sub = {
      meta: db.sublevel<string, unknown>('meta', { valueEncoding: 'json' }),
      mailbox: db.sublevel<string, MailboxRecord>('mailbox', { valueEncoding: 'json' }),
      message: db.sublevel<string, StoredMessage>('message', { valueEncoding: 'json' }),
      blob: db.sublevel<string, Buffer>('blob', { valueEncoding: 'buffer' }),
      blobref: db.sublevel<string, number>('blobref', { valueEncoding: 'json' }),
      index: db.sublevel<string, StoredIndex>('index', { valueEncoding: 'json' }),
      // The decoded body text of an index, kept apart: it is most of the index's bytes, and only
      // BODY/TEXT searches read it, while FETCH ENVELOPE and header SEARCH read the rest constantly.
      indexText: db.sublevel<string, string>('itext', { valueEncoding: 'json' }),
      pop3: db.sublevel<string, Pop3LedgerEntry>('pop3', { valueEncoding: 'json' }),
      outbox: db.sublevel<string, OutboxEntry>('outbox', { valueEncoding: 'json' }),
      subscription: db.sublevel<string, boolean>('subscription', { valueEncoding: 'json' }),
      vanished: db.sublevel<string, StoredRanges>('vanished', { valueEncoding: 'json' }),
    };
  }

  /** Opens (creating when new) the store of a data dir. One open per data dir per process. */
  static async open(dataDir: string, options: OpenOptions = {}): Promise<Store> {
    const absolute = path.resolve(dataDir);
    if (openPaths.has(absolute)) {
      // A second open in the same process would make LevelDB drop the first handle's lock.
      throw new StoreError('INUSE', `the store in ${absolute} is already open in this process`);
    }
    fs.mkdirSync(absolute, { recursive: true, mode: 0o700 });
    const location = path.join(absolute, 'store');
    // LevelDB memory-maps every open table file; a bounded table cache bounds that part of the RSS
    // (evicted tables are unmapped) at the cost of reopening a table now and then.
    const db = new Level<string, unknown>(location, { valueEncoding: 'json', maxOpenFiles: MAX_OPEN_TABLE_FILES });
    try {
      await db.open();
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      if (cause && /lock/i.test(cause.message)) {
        throw new StoreError('INUSE', `the store in ${absolute} is in use by another process (is hotbridge already running?)`);
      }
      throw err;
    }
    openPaths.add(absolute);
    const store = new Store(absolute, db, options.vanishedHistoryLimit ?? VANISHED_HISTORY_LIMIT);
    try {
      await runMigrations(db);
      await store.loadMailboxes();
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
    await this.queue.catch(() => undefined);
    await this.db.close();
    openPaths.delete(this.dataDir);
  }

  // ---------------------------------------------------------------- plumbing

  /** Runs `fn` after every earlier mutation finished; mutations never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new StoreError('CLOSED', 'the store is closed');
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async commit(txn: Txn): Promise<void> {
    await this.settleBlobs(txn);
    if (txn.ops.length > 0) await this.db.batch(txn.ops as never, { sync: true });
    for (const effect of txn.afterCommit) effect();
    for (const change of txn.changes) this.changes.publish(change);
  }

  private async refCount(blobId: string): Promise<number> {
    const cached = this.blobRefs.get(blobId);
    if (cached !== undefined) return cached;
    const stored = (await this.sub.blobref.get(blobId)) ?? 0;
    return stored;
  }

  /** Turns the transaction's blob reference changes into puts and deletes of blob, index and count. */
  private async settleBlobs(txn: Txn): Promise<void> {
    const { blob, blobref, index } = this.sub;
    for (const [blobId, change] of txn.blobDeltas) {
      if (change.delta === 0) continue;
      const before = await this.refCount(blobId);
      const after = Math.max(0, before + change.delta);
      if (before === 0 && after > 0) {
        if (!change.raw) throw new Error(`blob ${blobId} is referenced but its bytes were not given`);
        txn.ops.push({ type: 'put', sublevel: blob, key: blobId, value: change.raw });
        this.putIndexOps(txn.ops, blobId, change.index ?? indexMessage(change.raw));
      }
      if (after === 0) {
        txn.ops.push({ type: 'del', sublevel: blob, key: blobId });
        txn.ops.push({ type: 'del', sublevel: index, key: blobId });
        txn.ops.push({ type: 'del', sublevel: this.sub.indexText, key: blobId });
        txn.afterCommit.push(() => this.indexCache.delete(blobId));
        txn.ops.push({ type: 'del', sublevel: blobref, key: blobId });
      } else {
        txn.ops.push({ type: 'put', sublevel: blobref, key: blobId, value: after });
      }
      txn.afterCommit.push(() => {
        if (after === 0) this.blobRefs.delete(blobId);
        else this.blobRefs.set(blobId, after);
      });
    }
  }

  private addBlobRef(txn: Txn, blobId: string, delta: number, raw?: Buffer, index?: MessageIndex): void {
    const entry = txn.blobDeltas.get(blobId) ?? { delta: 0 };
    entry.delta += delta;
    if (raw) entry.raw = raw;
    if (index) entry.index = index;
    txn.blobDeltas.set(blobId, entry);
  }

  /** The content hash that names a blob. */
  static blobIdOf(raw: Buffer): string {
    return createHash('sha256').update(raw).digest('hex');
  }

  // ---------------------------------------------------------------- mailboxes

  private async loadMailboxes(): Promise<void> {
    for await (const record of this.sub.mailbox.values()) {
      // A mailbox from before the expunge history: nothing older than now is itemised. Stable until
      // the record is next written (which only happens with a new mod-sequence), and then stored.
      record.vanishedFloor ??= record.highestModseq;
      this.mailboxes.set(record.id, record);
      this.nextMailboxId = Math.max(this.nextMailboxId, record.id + 1);
    }
    const last = await this.sub.meta.get('lastUidValidity');
    this.lastUidValidity = typeof last === 'number' ? last : 0;
  }

  /** A fresh UIDVALIDITY: seconds since the epoch, but always larger than any given before (RFC 3501 §2.3.1.1). */
  private newUidValidity(txn: Txn): number {
    const value = Math.max(Math.floor(Date.now() / 1000), this.lastUidValidity + 1);
    this.lastUidValidity = value;
    txn.ops.push({ type: 'put', sublevel: this.sub.meta, key: 'lastUidValidity', value });
    return value;
  }

  private putMailbox(txn: Txn, record: MailboxRecord): void {
    txn.ops.push({ type: 'put', sublevel: this.sub.mailbox, key: mailboxKey(record.id), value: record });
  }

  /** Creates the default folders of an account that has none yet. */
  ensureAccount(account: string): Promise<void> {
    const owner = account.toLowerCase();
    return this.exclusive(async () => {
      const txn = new Txn();
      for (const folder of DEFAULT_MAILBOXES) {
        if (!this.findMailbox(owner, folder.name)) this.addMailbox(txn, owner, folder.name, folder.specialUse);
        if (!(await this.sub.subscription.get(subscriptionKey(owner, folder.name)))) {
          txn.ops.push({ type: 'put', sublevel: this.sub.subscription, key: subscriptionKey(owner, folder.name), value: true });
        }
      }
      await this.commit(txn);
    });
  }

  private addMailbox(txn: Txn, account: string, name: string, specialUse?: SpecialUse): MailboxRecord {
    const record: MailboxRecord = {
      id: this.nextMailboxId++,
      account,
      name,
      uidValidity: this.newUidValidity(txn),
      uidNext: 1,
      highestModseq: 1,
      vanishedFloor: 0,
      createdAt: Date.now(),
      ...(specialUse ? { specialUse } : {}),
    };
    this.putMailbox(txn, record);
    // Messages added in the same transaction (RENAME INBOX) update this very object.
    txn.mailboxes.set(record.id, record);
    txn.afterCommit.push(() => {
      this.mailboxes.set(record.id, record);
      this.lists.set(record.id, new MessageList([]));
    });
    txn.changes.push({ kind: 'mailbox-created', mailboxId: record.id, account, name });
    return record;
  }

  /** All mailboxes of an account, sorted by name (INBOX first). */
  listMailboxes(account: string): MailboxRecord[] {
    const owner = account.toLowerCase();
    return [...this.mailboxes.values()]
      .filter((record) => record.account === owner)
      .sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The accounts that have mailboxes in this store. */
  listAccounts(): string[] {
    return [...new Set([...this.mailboxes.values()].map((record) => record.account))];
  }

  /** Finds a mailbox by name; INBOX matches case-insensitively (RFC 3501 §5.1). */
  findMailbox(account: string, name: string): MailboxRecord | undefined {
    const owner = account.toLowerCase();
    const wanted = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
    for (const record of this.mailboxes.values()) {
      if (record.account === owner && record.name === wanted) return record;
    }
    return undefined;
  }

  getMailbox(mailboxId: number): MailboxRecord | undefined {
    return this.mailboxes.get(mailboxId);
  }

  private requireMailbox(mailboxId: number): MailboxRecord {
    const record = this.mailboxes.get(mailboxId);
    if (!record) throw new StoreError('NONEXISTENT', 'no such mailbox');
    return record;
  }

  createMailbox(account: string, name: string, specialUse?: SpecialUse): Promise<MailboxRecord> {
    const owner = account.toLowerCase();
    return this.exclusive(async () => {
      if (this.findMailbox(owner, name)) throw new StoreError('ALREADYEXISTS', `mailbox ${name} already exists`);
      const txn = new Txn();
      const record = this.addMailbox(txn, owner, name, specialUse);
      await this.commit(txn);
      return record;
    });
  }

  /** Deletes a mailbox and its messages. INBOX cannot be deleted (RFC 3501 §6.3.4). */
  deleteMailbox(mailboxId: number): Promise<void> {
    return this.exclusive(async () => {
      const record = this.requireMailbox(mailboxId);
      if (record.name === 'INBOX') throw new StoreError('CANNOT', 'INBOX cannot be deleted');
      const list = await this.loadList(mailboxId);
      const txn = new Txn();
      for (const message of list.all()) {
        txn.ops.push({ type: 'del', sublevel: this.sub.message, key: messageKey(mailboxId, message.uid) });
        this.addBlobRef(txn, message.blobId, -1);
      }
      txn.ops.push({ type: 'del', sublevel: this.sub.mailbox, key: mailboxKey(mailboxId) });
      // The expunge history goes with the mailbox (RFC 7162 §5.3: it SHOULD be deleted).
      for await (const key of this.sub.vanished.keys(vanishedRange(mailboxId))) {
        txn.ops.push({ type: 'del', sublevel: this.sub.vanished, key });
      }
      txn.afterCommit.push(() => {
        this.mailboxes.delete(mailboxId);
        this.lists.delete(mailboxId);
        this.vanishedLogs.delete(mailboxId);
      });
      txn.changes.push({ kind: 'mailbox-deleted', mailboxId, account: record.account, name: record.name });
      await this.commit(txn);
    });
  }

  /**
   * Renames a mailbox and every mailbox below it in the hierarchy (RFC 3501 §6.3.5). UIDVALIDITY is kept:
   * the messages and their UIDs do not change. Renaming INBOX moves its messages to a new mailbox and
   * leaves INBOX empty.
   */
  renameMailbox(account: string, oldName: string, newName: string): Promise<void> {
    const owner = account.toLowerCase();
    return this.exclusive(async () => {
      const source = this.findMailbox(owner, oldName);
      if (!source) throw new StoreError('NONEXISTENT', `mailbox ${oldName} does not exist`);
      if (this.findMailbox(owner, newName)) throw new StoreError('ALREADYEXISTS', `mailbox ${newName} already exists`);
      const txn = new Txn();
      if (source.name === 'INBOX') {
        const target = this.addMailbox(txn, owner, newName);
        await this.moveInTxn(txn, source.id, (await this.loadList(source.id)).all().map((m) => m.uid), target);
        await this.commit(txn);
        return;
      }
      const prefix = source.name + HIERARCHY_DELIMITER;
      if (newName.startsWith(prefix)) throw new StoreError('CANNOT', `mailbox ${oldName} cannot be moved below itself`);
      const moving = [...this.mailboxes.values()].filter(
        (record) => record.account === owner && (record.name === source.name || record.name.startsWith(prefix)),
      );
      // Every renamed child needs a free name too, or two mailboxes would end up with the same one.
      for (const record of moving) {
        const target = newName + record.name.slice(source.name.length);
        if (this.findMailbox(owner, target)) throw new StoreError('ALREADYEXISTS', `mailbox ${target} already exists`);
      }
      for (const record of moving) {
        const renamed: MailboxRecord = { ...record, name: newName + record.name.slice(source.name.length) };
        this.putMailbox(txn, renamed);
        txn.afterCommit.push(() => this.mailboxes.set(renamed.id, renamed));
        txn.changes.push({ kind: 'mailbox-renamed', mailboxId: record.id, account: owner, oldName: record.name, newName: renamed.name });
      }
      await this.commit(txn);
    });
  }

  /** Subscribed names of an account (they may name mailboxes that no longer exist, RFC 3501 §6.3.6). */
  async listSubscriptions(account: string): Promise<string[]> {
    const names: string[] = [];
    for await (const key of this.sub.subscription.keys(subscriptionRange(account.toLowerCase()))) {
      names.push(key.slice(key.indexOf('\u0000') + 1));
    }
    return names;
  }

  setSubscribed(account: string, name: string, subscribed: boolean): Promise<void> {
    const key = subscriptionKey(account.toLowerCase(), name.toUpperCase() === 'INBOX' ? 'INBOX' : name);
    return this.exclusive(async () => {
      const txn = new Txn();
      txn.ops.push(subscribed ? { type: 'put', sublevel: this.sub.subscription, key, value: true } : { type: 'del', sublevel: this.sub.subscription, key });
      await this.commit(txn);
    });
  }

  // ---------------------------------------------------------------- messages

  private async loadList(mailboxId: number): Promise<MessageList> {
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
          const record: MessageRecord = { uid: uidFromMessageKey(key), blobId, flags, internalDate, size, modseq };
          if (uidl !== undefined) record.uidl = uidl;
          records.push(record);
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

  /** The messages of a mailbox in UID order (a live, read-only view: do not modify). */
  async listMessages(mailboxId: number): Promise<readonly MessageRecord[]> {
    this.requireMailbox(mailboxId);
    return (await this.loadList(mailboxId)).all();
  }

  /** The raw bytes of a message, exactly as received. */
  async getBlob(blobId: string): Promise<Buffer> {
    const raw = await this.sub.blob.get(blobId);
    if (raw === undefined) throw new StoreError('NONEXISTENT', `blob ${blobId} is missing`);
    return raw;
  }

  /** The index of a message without its body text (see getIndexes). */
  async getIndex(blobId: string, options: { text?: boolean } = {}): Promise<MessageIndex> {
    const [index] = await this.getIndexes([blobId], options);
    if (!index) throw new StoreError('NONEXISTENT', `blob ${blobId} is missing`);
    return index;
  }

  /**
   * The parsed indexes of many messages in one read (undefined where a blob is gone). Without
   * `text: true` the body text is left out (`text` is empty): ENVELOPE, BODYSTRUCTURE and header searches
   * never need it, and it is most of the bytes. Indexes made by an older indexer are recomputed and stored.
   */
  async getIndexes(blobIds: readonly string[], options: { text?: boolean } = {}): Promise<Array<MessageIndex | undefined>> {
    const result: Array<MessageIndex | undefined> = new Array(blobIds.length);
    const missing: number[] = [];
    blobIds.forEach((blobId, i) => {
      const cached = this.indexCache.get(blobId);
      if (cached) {
        // Most recently used last: Map keeps insertion order.
        this.indexCache.delete(blobId);
        this.indexCache.set(blobId, cached);
        result[i] = cached;
      } else missing.push(i);
    });
    if (missing.length > 0) {
      const stored = await this.sub.index.getMany(missing.map((i) => blobIds[i]));
      for (let k = 0; k < missing.length; k++) {
        const i = missing[k];
        let entry = stored[k];
        if (!entry || entry.v !== MESSAGE_INDEX_VERSION || entry.index.text) {
          const repaired = await this.repairIndex(blobIds[i], entry);
          if (!repaired) continue;
          entry = repaired;
        }
        const index = entry.index.text ? { ...entry.index, text: '' } : entry.index;
        result[i] = index;
        this.indexCache.set(blobIds[i], index);
        if (this.indexCache.size > INDEX_CACHE_ENTRIES) this.indexCache.delete(this.indexCache.keys().next().value as string);
      }
    }
    if (!options.text) return result;
    const present = blobIds.map((_, i) => i).filter((i) => result[i] !== undefined);
    const texts = await this.sub.indexText.getMany(present.map((i) => blobIds[i]));
    present.forEach((i, k) => {
      result[i] = { ...result[i]!, text: texts[k] ?? '' };
    });
    return result;
  }

  /**
   * Rewrites an index made by an older indexer (or stored before the body text moved to its own entry).
   * Through the write queue, so it cannot race with the blob's deletion; undefined when the blob is gone.
   */
  private repairIndex(blobId: string, stored: StoredIndex | undefined): Promise<StoredIndex | undefined> {
    return this.exclusive(async () => {
      const raw = await this.sub.blob.get(blobId);
      if (raw === undefined) return undefined;
      const index = stored && stored.v === MESSAGE_INDEX_VERSION ? stored.index : indexMessage(raw);
      const ops: BatchOp[] = [];
      this.putIndexOps(ops, blobId, index);
      await this.db.batch(ops as never);
      return { v: MESSAGE_INDEX_VERSION, index: { ...index, text: '' } };
    });
  }

  /** Writes an index as two entries: the structure and headers, and the body text apart. */
  private putIndexOps(ops: BatchOp[], blobId: string, index: MessageIndex): void {
    ops.push({ type: 'put', sublevel: this.sub.index, key: blobId, value: { v: MESSAGE_INDEX_VERSION, index: { ...index, text: '' } } });
    ops.push({ type: 'put', sublevel: this.sub.indexText, key: blobId, value: index.text });
  }

  private putMessage(txn: Txn, mailboxId: number, record: MessageRecord): void {
    const value: StoredMessage = [record.blobId, record.flags, record.internalDate, record.size, record.modseq];
    if (record.uidl !== undefined) value.push(record.uidl);
    txn.ops.push({ type: 'put', sublevel: this.sub.message, key: messageKey(mailboxId, record.uid), value });
  }

  /**
   * Adds a message to a mailbox inside a transaction: allocates the next UID and a new mod-sequence.
   * The mailbox record passed in is updated in place only after commit.
   */
  private addMessage(txn: Txn, mailbox: MailboxRecord, blob: BlobRef, options: AppendOptions): MessageRecord {
    const pending = this.pendingMailbox(txn, mailbox);
    const uid = pending.uidNext++;
    const modseq = ++pending.highestModseq;
    const record: MessageRecord = {
      uid,
      blobId: blob.id,
      flags: normalizeFlags(options.flags ?? []),
      internalDate: options.internalDate ?? Date.now(),
      size: blob.size,
      modseq,
    };
    if (options.uidl !== undefined) record.uidl = options.uidl;
    this.putMessage(txn, mailbox.id, record);
    this.addBlobRef(txn, blob.id, +1, blob.raw, blob.index);
    txn.afterCommit.push(() => this.lists.get(mailbox.id)?.append(record));
    txn.changes.push({ kind: 'message-added', mailboxId: mailbox.id, uid, modseq });
    return record;
  }

  /**
   * The copy of a mailbox record that a transaction changes (UIDNEXT, HIGHESTMODSEQ); written once at
   * commit time and swapped into memory after the batch is durable.
   */
  private pendingMailbox(txn: Txn, mailbox: MailboxRecord): MailboxRecord {
    const existing = txn.mailboxes.get(mailbox.id);
    if (existing) return existing;
    const copy: MailboxRecord = { ...mailbox };
    txn.mailboxes.set(copy.id, copy);
    txn.ops.push({ type: 'put', sublevel: this.sub.mailbox, key: mailboxKey(copy.id), value: copy });
    txn.afterCommit.unshift(() => {
      if (this.mailboxes.has(copy.id)) this.mailboxes.set(copy.id, copy);
    });
    return copy;
  }

  /** IMAP APPEND (and bounces, notices, Sent copies): one durable batch, returns the new UID. */
  appendMessage(mailboxId: number, raw: Buffer, options: AppendOptions = {}): Promise<{ uid: number; uidValidity: number }> {
    const index = indexMessage(raw);
    const blobId = Store.blobIdOf(raw);
    return this.exclusive(async () => {
      const mailbox = this.requireMailbox(mailboxId);
      await this.loadList(mailboxId);
      const txn = new Txn();
      const record = this.addMessage(txn, mailbox, { id: blobId, size: raw.length, raw, index }, options);
      await this.commit(txn);
      return { uid: record.uid, uidValidity: mailbox.uidValidity };
    });
  }

  /**
   * Invariant 1: the poller's ingest. Blob, index, INBOX message (next UID) and the UIDL mark go in one
   * `{ sync: true }` batch; only after this resolves may the poller send DELE. A UIDL already in the
   * ledger is skipped, so a message is never stored twice.
   */
  ingestPop3(account: string, items: IngestItem[]): Promise<Array<{ uidl: string; uid?: number; duplicate: boolean }>> {
    const owner = account.toLowerCase();
    const prepared = items.map((item) => ({ ...item, blobId: Store.blobIdOf(item.raw), index: indexMessage(item.raw) }));
    return this.exclusive(async () => {
      const inbox = this.findMailbox(owner, 'INBOX');
      if (!inbox) throw new StoreError('NONEXISTENT', `account ${owner} has no INBOX`);
      await this.loadList(inbox.id);
      const ledger = await this.loadLedger(owner);
      const txn = new Txn();
      const results: Array<{ uidl: string; uid?: number; duplicate: boolean }> = [];
      const seen = new Set<string>();
      for (const item of prepared) {
        if (ledger.has(item.uidl) || seen.has(item.uidl)) {
          results.push({ uidl: item.uidl, duplicate: true });
          continue;
        }
        seen.add(item.uidl);
        const record = this.addMessage(txn, inbox, { id: item.blobId, size: item.raw.length, raw: item.raw, index: item.index }, { internalDate: item.internalDate, uidl: item.uidl });
        const entry: Pop3LedgerEntry = { uidl: item.uidl, blobId: item.blobId, fetchedAt: Date.now(), size: item.raw.length };
        if (item.index.envelope.messageId !== undefined) entry.messageId = item.index.envelope.messageId;
        txn.ops.push({ type: 'put', sublevel: this.sub.pop3, key: pop3Key(owner, item.uidl), value: entry });
        txn.afterCommit.push(() => ledger.set(item.uidl, entry));
        results.push({ uidl: item.uidl, uid: record.uid, duplicate: false });
      }
      await this.commit(txn);
      return results;
    });
  }

  private async loadLedger(account: string): Promise<Map<string, Pop3LedgerEntry>> {
    const cached = this.ledgers.get(account);
    if (cached) return cached;
    const ledger = new Map<string, Pop3LedgerEntry>();
    for await (const [key, value] of this.sub.pop3.iterator(pop3Range(account))) ledger.set(uidlFromPop3Key(key), value);
    this.ledgers.set(account, this.ledgers.get(account) ?? ledger);
    return this.ledgers.get(account)!;
  }

  /** The POP3 UIDL ledger of an account: every UIDL ever fetched (live view: do not modify). */
  async pop3Ledger(account: string): Promise<ReadonlyMap<string, Pop3LedgerEntry>> {
    return this.loadLedger(account.toLowerCase());
  }

  /**
   * Renames ledger entries (the server gave messages we hold new UIDLs), in one `{ sync: true }` batch, so that
   * they are neither fetched again nor, once renamed, deleted upstream before the rename is durable. Messages
   * that carry an old UIDL (for delete_on_expunge) carry the new one afterwards. Skips a rename whose old UIDL
   * is unknown or whose new one is taken; returns how many were made.
   */
  renamePop3Uidls(account: string, renames: ReadonlyArray<{ from: string; to: string }>): Promise<number> {
    const owner = account.toLowerCase();
    return this.exclusive(async () => {
      const ledger = await this.loadLedger(owner);
      const txn = new Txn();
      const done = new Map<string, string>();
      const taken = new Set<string>();
      for (const { from, to } of renames) {
        const entry = ledger.get(from);
        if (!entry || from === to || ledger.has(to) || done.has(from) || taken.has(to)) continue;
        const moved: Pop3LedgerEntry = { ...entry, uidl: to };
        txn.ops.push({ type: 'del', sublevel: this.sub.pop3, key: pop3Key(owner, from) });
        txn.ops.push({ type: 'put', sublevel: this.sub.pop3, key: pop3Key(owner, to), value: moved });
        txn.afterCommit.push(() => {
          ledger.delete(from);
          ledger.set(to, moved);
        });
        done.set(from, to);
        taken.add(to);
      }
      if (done.size === 0) return 0;
      for (const mailbox of this.listMailboxes(owner)) {
        const list = await this.loadList(mailbox.id);
        for (const message of list.all()) {
          const to = message.uidl === undefined ? undefined : done.get(message.uidl);
          if (to === undefined) continue;
          const renamed: MessageRecord = { ...message, uidl: to };
          this.putMessage(txn, mailbox.id, renamed);
          txn.afterCommit.push(() => list.replace(renamed));
        }
      }
      await this.commit(txn);
      return done.size;
    });
  }

  /** Records that upstream copies are gone (after the QUIT that made DELE final). */
  markDeletedUpstream(account: string, uidls: string[]): Promise<void> {
    return this.updateLedger(account, uidls, (entry) => ({ ...entry, deletedUpstreamAt: Date.now() }));
  }

  /** Forgets UIDLs the server no longer lists, so the ledger does not grow forever. */
  forgetUidls(account: string, uidls: string[]): Promise<void> {
    const owner = account.toLowerCase();
    return this.exclusive(async () => {
      const ledger = await this.loadLedger(owner);
      const txn = new Txn();
      for (const uidl of uidls) {
        if (!ledger.has(uidl)) continue;
        txn.ops.push({ type: 'del', sublevel: this.sub.pop3, key: pop3Key(owner, uidl) });
        txn.afterCommit.push(() => ledger.delete(uidl));
      }
      await this.commit(txn);
    });
  }

  private updateLedger(account: string, uidls: string[], update: (entry: Pop3LedgerEntry) => Pop3LedgerEntry): Promise<void> {
    const owner = account.toLowerCase();
    return this.exclusive(async () => {
      const ledger = await this.loadLedger(owner);
      const txn = new Txn();
      for (const uidl of uidls) {
        const entry = ledger.get(uidl);
        if (!entry) continue;
        const updated = update(entry);
        txn.ops.push({ type: 'put', sublevel: this.sub.pop3, key: pop3Key(owner, uidl), value: updated });
        txn.afterCommit.push(() => ledger.set(uidl, updated));
      }
      await this.commit(txn);
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
    mode: 'set' | 'add' | 'remove',
    flags: readonly string[],
    options: { unchangedSince?: number; origin?: unknown } = {},
  ): Promise<{ changed: MessageRecord[]; modifiedSince: number[] }> {
    const wanted = normalizeFlags(flags);
    return this.exclusive(async () => {
      const mailbox = this.requireMailbox(mailboxId);
      const list = await this.loadList(mailboxId);
      const txn = new Txn();
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
          if (!mailboxKeywordsChecked) checkMailboxKeywords(list.all(), wanted);
          mailboxKeywordsChecked = true;
          checkMessageKeywords(next);
        }
        pending ??= this.pendingMailbox(txn, mailbox);
        const updated: MessageRecord = { ...current, flags: next, modseq: ++pending.highestModseq };
        this.putMessage(txn, mailboxId, updated);
        txn.afterCommit.push(() => list.replace(updated));
        txn.changes.push({ kind: 'flags-changed', mailboxId, uid, flags: next, modseq: updated.modseq, origin: options.origin });
        changed.push(updated);
      }
      await this.commit(txn);
      return { changed, modifiedSince };
    });
  }

  /** COPY: the same blobs, new UIDs in the target; returns [sourceUid, targetUid] pairs for COPYUID. */
  copyMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }> {
    return this.exclusive(async () => {
      const target = this.requireMailbox(targetId);
      this.requireMailbox(sourceId);
      const source = await this.loadList(sourceId);
      await this.loadList(targetId);
      const txn = new Txn();
      const pairs = this.copyInTxn(txn, source, uids, target);
      await this.commit(txn);
      return { uidValidity: target.uidValidity, pairs };
    });
  }

  /** MOVE (RFC 6851): copy and expunge in one atomic batch. */
  moveMessages(sourceId: number, uids: readonly number[], targetId: number): Promise<{ uidValidity: number; pairs: Array<[number, number]> }> {
    return this.exclusive(async () => {
      const target = this.requireMailbox(targetId);
      const txn = new Txn();
      const pairs = await this.moveInTxn(txn, sourceId, uids, target);
      await this.commit(txn);
      return { uidValidity: target.uidValidity, pairs };
    });
  }

  private async moveInTxn(txn: Txn, sourceId: number, uids: readonly number[], target: MailboxRecord): Promise<Array<[number, number]>> {
    const source = await this.loadList(sourceId);
    await this.loadList(target.id);
    // A moved message keeps its POP3 origin: filing a message away is not deleting it (delete_on_expunge).
    const pairs = this.copyInTxn(txn, source, uids, target, { keepUidl: true });
    await this.expungeInTxn(txn, sourceId, pairs.map(([uid]) => uid), { moved: true });
    return pairs;
  }

  /**
   * Adds copies of the source messages to the target, with their flags and dates. The source still
   * references each blob (a MOVE drops that reference in the same batch), so no bytes are read.
   */
  private copyInTxn(txn: Txn, source: MessageList, uids: readonly number[], target: MailboxRecord, options: { keepUidl?: boolean } = {}): Array<[number, number]> {
    const pairs: Array<[number, number]> = [];
    for (const uid of uids) {
      const message = source.get(uid);
      if (!message) continue;
      const uidl = options.keepUidl ? message.uidl : undefined;
      const copy = this.addMessage(txn, target, { id: message.blobId, size: message.size }, { flags: message.flags, internalDate: message.internalDate, uidl });
      pairs.push([uid, copy.uid]);
    }
    return pairs;
  }

  /** EXPUNGE / UID EXPUNGE: removes the messages; a blob goes when its last reference does. */
  expungeMessages(mailboxId: number, uids: readonly number[]): Promise<number[]> {
    return this.exclusive(async () => {
      const txn = new Txn();
      const removed = await this.expungeInTxn(txn, mailboxId, uids);
      await this.commit(txn);
      return removed;
    });
  }

  private async expungeInTxn(txn: Txn, mailboxId: number, uids: readonly number[], options: { moved?: boolean } = {}): Promise<number[]> {
    const mailbox = this.requireMailbox(mailboxId);
    const list = await this.loadList(mailboxId);
    const removed: number[] = [];
    const expungedUidls: string[] = [];
    for (const uid of uids) {
      const message = list.get(uid);
      if (!message) continue;
      txn.ops.push({ type: 'del', sublevel: this.sub.message, key: messageKey(mailboxId, uid) });
      this.addBlobRef(txn, message.blobId, -1);
      removed.push(uid);
      if (message.uidl !== undefined && !options.moved) expungedUidls.push(message.uidl);
    }
    if (removed.length === 0) return removed;
    const pending = this.pendingMailbox(txn, mailbox);
    const modseq = ++pending.highestModseq;
    await this.recordVanished(txn, pending, { modseq, ranges: rangesOf(removed) });
    if (expungedUidls.length > 0) {
      const ledger = await this.loadLedger(mailbox.account);
      for (const uidl of expungedUidls) {
        const entry = ledger.get(uidl);
        if (!entry) continue;
        const updated = { ...entry, expungedLocallyAt: Date.now() };
        txn.ops.push({ type: 'put', sublevel: this.sub.pop3, key: pop3Key(mailbox.account, uidl), value: updated });
        txn.afterCommit.push(() => ledger.set(uidl, updated));
      }
    }
    txn.afterCommit.push(() => list.remove(removed));
    txn.changes.push({ kind: 'messages-expunged', mailboxId, uids: removed, modseq });
    return removed;
  }

  private async loadVanished(mailboxId: number): Promise<VanishedLog> {
    const cached = this.vanishedLogs.get(mailboxId);
    if (cached) return cached;
    const entries: VanishedEntry[] = [];
    for await (const [key, value] of this.sub.vanished.iterator(vanishedRange(mailboxId))) {
      entries.push({ modseq: modseqFromVanishedKey(key), ranges: unflattenRanges(value) });
    }
    const raced = this.vanishedLogs.get(mailboxId);
    if (raced) return raced;
    const log = new VanishedLog(entries);
    this.vanishedLogs.set(mailboxId, log);
    return log;
  }

  /**
   * QRESYNC (RFC 7162 §3.2.7): remembers which UIDs an expunge removed, with its mod-sequence, in the
   * expunge's own batch. Keeps the history within its limit by forgetting the oldest entries and
   * raising the mailbox's floor to the newest one forgotten.
   */
  private async recordVanished(txn: Txn, pending: MailboxRecord, entry: VanishedEntry): Promise<void> {
    const log = await this.loadVanished(pending.id);
    const { forget, dropNew } = log.plan(entry.ranges.length, this.vanishedLimit);
    let floor = pending.vanishedFloor ?? 0;
    for (const old of forget) {
      txn.ops.push({ type: 'del', sublevel: this.sub.vanished, key: vanishedKey(pending.id, old.modseq) });
      floor = Math.max(floor, old.modseq);
    }
    if (dropNew) floor = Math.max(floor, entry.modseq);
    else txn.ops.push({ type: 'put', sublevel: this.sub.vanished, key: vanishedKey(pending.id, entry.modseq), value: flattenRanges(entry.ranges) });
    pending.vanishedFloor = floor;
    txn.afterCommit.push(() => {
      if (!dropNew) log.add(entry);
      log.forgetUpTo(floor);
    });
  }

  /**
   * QRESYNC (RFC 7162 §3.2.5.1, §3.2.6): the UIDs expunged from a mailbox after mod-sequence `modseq`.
   * Not `complete` when the history has been trimmed past that point; the caller then reports every
   * UID it is asked about that no longer exists.
   */
  async vanishedSince(mailboxId: number, modseq: number): Promise<VanishedAnswer> {
    const mailbox = this.requireMailbox(mailboxId);
    if (modseq >= mailbox.highestModseq) return { complete: true, ranges: [] };
    if (modseq < (mailbox.vanishedFloor ?? mailbox.highestModseq)) return { complete: false, ranges: [] };
    const log = await this.loadVanished(mailboxId);
    return { complete: true, ranges: log.since(modseq) };
  }

  // ---------------------------------------------------------------- outbox

  /**
   * Invariant 2: a submission. Blob and outbox entry go in one `{ sync: true }` batch; only after this
   * resolves may the SMTP client get its 250.
   */
  enqueueOutbox(entry: NewOutboxEntry, raw: Buffer): Promise<OutboxEntry> {
    const blobId = Store.blobIdOf(raw);
    const index = indexMessage(raw);
    return this.exclusive(async () => {
      const now = Date.now();
      const record: OutboxEntry = {
        id: `${now.toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}`,
        account: entry.account.toLowerCase(),
        from: entry.from,
        recipients: [...entry.recipients],
        pending: [...entry.recipients],
        delivered: [],
        failed: [],
        blobId,
        size: raw.length,
        createdAt: now,
        attempts: 0,
        nextAttemptAt: now,
      };
      const txn = new Txn();
      this.addBlobRef(txn, blobId, +1, raw, index);
      txn.ops.push({ type: 'put', sublevel: this.sub.outbox, key: record.id, value: record });
      txn.changes.push({ kind: 'outbox-changed', account: record.account });
      await this.commit(txn);
      return record;
    });
  }

  /** Every queued submission, oldest first (optionally of one account). */
  async listOutbox(account?: string): Promise<OutboxEntry[]> {
    const entries: OutboxEntry[] = [];
    for await (const value of this.sub.outbox.values()) {
      if (account === undefined || value.account === account.toLowerCase()) entries.push(value);
    }
    return entries;
  }

  /**
   * Saves the worker's progress on an entry (attempts, recipients done, next try, last error). Optional
   * `deliveries` (a partial bounce for recipients refused in this attempt) go in the same batch, so the
   * bounce exists exactly when the refusal is recorded: never lost, never twice.
   */
  updateOutbox(entry: OutboxEntry, deliveries: Delivery[] = []): Promise<void> {
    const prepared = prepareDeliveries(deliveries);
    return this.exclusive(async () => {
      const txn = new Txn();
      await this.addDeliveries(txn, prepared);
      txn.ops.push({ type: 'put', sublevel: this.sub.outbox, key: entry.id, value: entry });
      txn.changes.push({ kind: 'outbox-changed', account: entry.account });
      await this.commit(txn);
    });
  }

  /**
   * Takes an entry out of the queue; in the same batch, optionally places messages for the user (a bounce
   * in INBOX, a copy in Sent), so a crash can neither lose the bounce nor deliver it twice.
   */
  finishOutbox(entryId: string, deliveries: Delivery[] = []): Promise<void> {
    const prepared = prepareDeliveries(deliveries);
    return this.exclusive(async () => {
      const entry = await this.sub.outbox.get(entryId);
      if (!entry) return;
      const txn = new Txn();
      await this.addDeliveries(txn, prepared);
      this.addBlobRef(txn, entry.blobId, -1);
      txn.ops.push({ type: 'del', sublevel: this.sub.outbox, key: entryId });
      txn.changes.push({ kind: 'outbox-changed', account: entry.account });
      await this.commit(txn);
    });
  }

  /** Places messages for the user (bounces, Sent copies) inside an outbox transaction. */
  private async addDeliveries(txn: Txn, prepared: PreparedDelivery[]): Promise<void> {
    for (const delivery of prepared) {
      const mailbox = this.requireMailbox(delivery.mailboxId);
      await this.loadList(mailbox.id);
      this.addMessage(txn, mailbox, delivery.blob, { flags: delivery.flags });
    }
  }

  // ---------------------------------------------------------------- small metadata

  /** A small JSON value kept with the mail (one-time notices, sync progress worth keeping). */
  async getMeta<T>(key: string): Promise<T | undefined> {
    return (await this.sub.meta.get(`app:${key}`)) as T | undefined;
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.exclusive(async () => {
      const txn = new Txn();
      txn.ops.push({ type: 'put', sublevel: this.sub.meta, key: `app:${key}`, value });
      await this.commit(txn);
    });
  }
}

const SYSTEM_FLAGS = new Map(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft'].map((flag) => [flag, flag[1].toUpperCase() === flag[1] ? flag : `\\${flag[1].toUpperCase()}${flag.slice(2)}`]));

/** System flags get their canonical case; keywords keep theirs; duplicates and \Recent go. */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    if (lower === '\\recent') continue;
    const canonical = SYSTEM_FLAGS.get(lower) ?? flag;
    if (seen.has(canonical.toLowerCase())) continue;
    seen.add(canonical.toLowerCase());
    out.push(canonical);
  }
  return out;
}

function applyFlags(current: readonly string[], mode: 'set' | 'add' | 'remove', flags: readonly string[]): string[] {
  if (mode === 'set') return [...flags];
  const lower = new Set(flags.map((flag) => flag.toLowerCase()));
  if (mode === 'remove') return current.filter((flag) => !lower.has(flag.toLowerCase()));
  const existing = new Set(current.map((flag) => flag.toLowerCase()));
  return [...current, ...flags.filter((flag) => !existing.has(flag.toLowerCase()))];
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((flag) => flag.toLowerCase()));
  return b.every((flag) => set.has(flag.toLowerCase()));
}
