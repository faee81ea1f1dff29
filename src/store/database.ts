/**
 * The one LevelDB handle of a data dir and its sublevels (ARCHITECTURE.md, "Store model"). Opened once
 * per data dir per process: a second open in the same process would make LevelDB drop the first
 * handle's lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import type { MessageIndex } from '../mime/index.js';
import { StoreError } from './errors.js';
import { explainOpenError, storeLocation } from './store-health.js';
import { mayCreateStore, recordStore } from './store-presence.js';
import { settleInterruptedSwap } from './store-swap.js';
import type { MailboxRecord, OutboxEntry, Pop3LedgerEntry } from './records.js';
import type { StoredRanges } from './vanished-log.js';

/** Stored form of an index entry: the version lets a newer indexer recompute old entries lazily. */
export interface StoredIndex {
  v: number;
  index: MessageIndex;
}

/** One message of an import under way (import-staging.ts): where it goes and what it carries. */
export interface StagedMessage {
  account: string;
  mailbox: string;
  flags: string[];
  internalDate: number;
  blobId: string;
  size: number;
}

/** Where a chunked blob's bytes are (its manifest, see blob-chunks.ts): the chunk set, its chunks, its size. */
export interface ChunkedBlob {
  set: string;
  chunks: number;
  size: number;
}

/** Compact stored form of a message: [blobId, flags, internalDate, size, modseq, uidl?]. */
export type StoredMessage = [string, string[], number, number, number, string?];

/**
 * LevelDB's table cache (its default is 1000 files of ~2 MB, all memory-mapped once read). LevelDB
 * raises anything below 74 to 74 (64 tables), so this alone cannot bound the mapped pages further.
 */
const MAX_OPEN_TABLE_FILES = 64;
/**
 * Size of a table file (LevelDB's default is 2 MB). Tables are memory-mapped, and the pages read count in
 * the RSS until the table leaves the cache: 64 open tables of 2 MB let a 100,000-message mailbox map
 * 72 MB of them after one SELECT (bench/imap.bench.ts); with 512 KB tables 35 MB, with 256 KB 15 MB. A
 * personal store of a few GB then has some thousands of files, which LevelDB handles well (it keeps at
 * most 64 open, and compacts a file at a time).
 */
const TABLE_FILE_BYTES = 256 * 1024;
/**
 * The memtable (LevelDB's default is 4 MB, and two may exist while one is flushed): writes here are
 * small (flags, message records; blob bytes are big but written once), so 1 MB flushes a little more
 * often for 6 MB less held.
 */
const WRITE_BUFFER_BYTES = 1024 * 1024;
/**
 * LevelDB's block cache (its default is 8 MB, which an idle daemon then holds for good). Message bytes
 * bypass it (blobs.ts) and the IMAP server keeps its own small caches of what it reads often (indexes,
 * recent blobs), so a small one does for the message lists and metadata.
 */
const BLOCK_CACHE_BYTES = 2 * 1024 * 1024;

const openPaths = new Set<string>();

function sublevels(db: Level<string, unknown>) {
  return {
    meta: db.sublevel<string, unknown>('meta', { valueEncoding: 'json' }),
    mailbox: db.sublevel<string, MailboxRecord>('mailbox', { valueEncoding: 'json' }),
    message: db.sublevel<string, StoredMessage>('message', { valueEncoding: 'json' }),
    blob: db.sublevel<string, Buffer>('blob', { valueEncoding: 'buffer' }),
    // Large blobs are chunked (blob-chunks.ts): the manifest of each, the chunks, and the sets in progress.
    blobchunks: db.sublevel<string, ChunkedBlob>('blobchunks', { valueEncoding: 'json' }),
    chunk: db.sublevel<string, Buffer>('chunk', { valueEncoding: 'buffer' }),
    chunkset: db.sublevel<string, { startedAt: number }>('chunkset', { valueEncoding: 'json' }),
    blobref: db.sublevel<string, number>('blobref', { valueEncoding: 'json' }),
    // Blobs without references, to be deleted once no reader retains them (blob-retention.ts).
    orphan: db.sublevel<string, boolean>('orphan', { valueEncoding: 'json' }),
    index: db.sublevel<string, StoredIndex>('index', { valueEncoding: 'json' }),
    // The decoded body text of an index, kept apart: it is most of the index's bytes, and only
    // BODY/TEXT searches read it, while FETCH ENVELOPE and header SEARCH read the rest constantly.
    indexText: db.sublevel<string, string>('itext', { valueEncoding: 'json' }),
    pop3: db.sublevel<string, Pop3LedgerEntry>('pop3', { valueEncoding: 'json' }),
    outbox: db.sublevel<string, OutboxEntry>('outbox', { valueEncoding: 'json' }),
    subscription: db.sublevel<string, boolean>('subscription', { valueEncoding: 'json' }),
    vanished: db.sublevel<string, StoredRanges>('vanished', { valueEncoding: 'json' }),
    // Messages of an import under way, not yet in any mailbox (import-staging.ts).
    staging: db.sublevel<string, StagedMessage>('staging', { valueEncoding: 'json' }),
  };
}

/** A LevelDB snapshot: reads that pass it see the database as it was when it was taken. */
export type Snapshot = ReturnType<Level<string, unknown>['snapshot']>;

/** Every sublevel of the store, by name. */
export type Sublevels = ReturnType<typeof sublevels>;

/** An open database: the handle, its sublevels, and the absolute data dir it belongs to. */
export interface Database {
  dataDir: string;
  /** The LevelDB directory (DATA_DIR/store). */
  location: string;
  db: Level<string, unknown>;
  sub: Sublevels;
  /**
   * Closes and opens the same handle again: after a failed write LevelDB keeps refusing writes (and its log
   * may end in a torn record) until it is reopened. Only under the write queue (write-recovery.ts).
   */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the database of a data dir, private to the user. Creates it only on the first run in that data
 * dir (store-presence.ts): a store that existed and lost files is refused, with the cause and the fix.
 * A restore or repair that a crash interrupted is finished or undone first (store-swap.ts); what that did
 * is in `notices`.
 */
export async function openDatabase(dataDir: string, options: { maxOpenTables?: number } = {}): Promise<Database & { notices: string[] }> {
  const absolute = path.resolve(dataDir);
  if (openPaths.has(absolute)) {
    throw new StoreError('in-use', `the store in ${absolute} is already open in this process`);
  }
  fs.mkdirSync(absolute, { recursive: true, mode: 0o700 });
  const notices: string[] = [];
  const settled = settleInterruptedSwap(absolute);
  if (settled) notices.push(settled);
  const location = storeLocation(absolute);
  const create = mayCreateStore(absolute, location);
  const database = await openLocation(absolute, location, { create, ...options });
  openPaths.add(absolute);
  recordStore(absolute, create);
  return {
    ...database,
    notices,
    close: async () => {
      await database.close();
      openPaths.delete(absolute);
    },
  };
}

/**
 * Opens a LevelDB directory that is not (yet) the data dir's store: the one `restore` builds, the copy
 * `repair` works on. No guards: the caller holds the data dir's lock.
 */
export async function openLocation(
  dataDir: string,
  location: string,
  options: { create: boolean; maxOpenTables?: number },
): Promise<Database> {
  // LevelDB memory-maps every open table file; a bounded table cache bounds that part of the RSS
  // (evicted tables are unmapped) at the cost of reopening a table now and then.
  const db = new Level<string, unknown>(location, {
    valueEncoding: 'json',
    maxOpenFiles: options.maxOpenTables ?? MAX_OPEN_TABLE_FILES,
    cacheSize: BLOCK_CACHE_BYTES,
    maxFileSize: TABLE_FILE_BYTES,
    writeBufferSize: WRITE_BUFFER_BYTES,
    createIfMissing: options.create,
    errorIfExists: options.create,
  });
  try {
    await db.open();
  } catch (err) {
    throw explainOpenError(err, dataDir, location) ?? err;
  }
  const sub = sublevels(db);
  return {
    dataDir,
    location,
    db,
    sub,
    reopen: async () => {
      if (db.status === 'open') await db.close();
      // The store exists now, whatever the first open was told (a new store is opened with errorIfExists).
      await db.open({ createIfMissing: false, errorIfExists: false } as never);
      // Sublevels close with their parent but do not open with it again.
      await Promise.all(Object.values(sub).map((level) => level.open()));
    },
    close: () => db.close(),
  };
}
