/**
 * `hotbridge backup FILE` and `hotbridge restore FILE`.
 *
 * A backup reads every key and value of the database from one LevelDB snapshot — the store exactly as it
 * was at one moment, while the daemon goes on serving and writing — into one archive (backup-archive.ts),
 * then reads the archive back from the disk to check it before saying it is done.
 *
 * A restore builds a new database from the archive beside the store, checks it (the archive's own
 * trailer, then `verify`), and only then puts it in the store's place (store-swap.ts): a restore that
 * fails or is interrupted leaves the store as it was, and the store it replaced is kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ArchiveWriter, readArchive, type ArchiveHeader, type ArchiveSummary } from './backup-archive.js';
import { openLocation, type Database } from './database.js';
import { StoreError } from './errors.js';
import { incomingLocation, prepareIncoming, swapInIncoming } from './store-swap.js';
import { verifyDatabase, type VerifyReport } from './verify.js';

export interface BackupReport extends ArchiveSummary {
  file: string;
  /** Messages (message records) in the backup. */
  messages: number;
  seconds: number;
}

/** Entries read from LevelDB at a time. */
const READ_BATCH = 256;

/**
 * LevelDB memory-maps each table file it reads and keeps up to 64 of them mapped (it will not take a
 * smaller table cache), and mapped pages count in the RSS: a read through a large store would hold well
 * over 100 MB. A process that has the store to itself (`exclusive`: the CLI with the daemon stopped)
 * closes and reopens the database after about this many bytes, which unmaps them.
 */
export const RELEASE_TABLES_EVERY_BYTES = 16 * 1024 * 1024;

export interface BackupOptions {
  /** No one else writes meanwhile (the caller holds the data dir's lock): the database may be reopened. */
  exclusive?: boolean;
}

type RawIterator = { nextv(n: number): Promise<Array<[Buffer, Buffer]>>; close(): Promise<void> };

/**
 * Writes a consistent backup of an open database to `file` and checks it: from one LevelDB snapshot, or —
 * `exclusive` — in pieces with a reopen between them (nothing changes meanwhile, so the pieces are one
 * moment too).
 */
export async function backupDatabase(
  database: Database,
  file: string,
  header: Omit<ArchiveHeader, 'format' | 'createdAt' | 'dataDir'> = {},
  options: BackupOptions = {},
): Promise<BackupReport> {
  const started = performance.now();
  const target = path.resolve(file);
  if (fs.existsSync(target) && fs.statSync(target).isDirectory())
    throw new Error(`${target} is a directory; give the name of the backup file to write`);
  const snapshot = options.exclusive ? undefined : database.db.snapshot();
  const writer = new ArchiveWriter(target, { format: 1, createdAt: new Date().toISOString(), dataDir: database.dataDir, ...header });
  const messagePrefix = Buffer.from(database.sub.message.prefix);
  let messages = 0;
  let summary: ArchiveSummary;
  try {
    let after: Buffer | undefined;
    for (let done = false; !done;) {
      const range = after ? { gt: after } : {};
      const iterator = database.db.iterator({
        keyEncoding: 'buffer',
        valueEncoding: 'buffer',
        ...(snapshot ? { snapshot } : {}),
        ...range,
      } as never) as unknown as RawIterator;
      let read = 0;
      try {
        for (;;) {
          const entries = await iterator.nextv(READ_BATCH);
          if (entries.length === 0) {
            done = true;
            break;
          }
          for (const [key, value] of entries) {
            if (key.length >= messagePrefix.length && key.subarray(0, messagePrefix.length).equals(messagePrefix)) messages++;
            const behind = writer.add(key, value);
            if (behind) await behind;
            read += key.length + value.length;
            after = key;
          }
          if (options.exclusive && read >= RELEASE_TABLES_EVERY_BYTES) break;
        }
      } finally {
        await iterator.close();
      }
      if (!done) await database.reopen();
    }
    summary = await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    await snapshot?.close();
  }
  // Read back from the disk: a backup that cannot be restored is worse than none, because it is trusted.
  const check = await readArchive(
    target,
    () => undefined,
    () => undefined,
  );
  if (check.entries !== summary.entries || check.sha256 !== summary.sha256) {
    throw new Error(
      `the backup ${target} did not read back as written (${check.entries} of ${summary.entries} entries); the disk may be failing`,
    );
  }
  return { file: target, ...summary, messages, seconds: (performance.now() - started) / 1000 };
}

export interface RestoreReport {
  file: string;
  entries: number;
  createdAt: string;
  /** Where the store that was replaced is kept (undefined when there was none). */
  previous?: string;
  verify: VerifyReport;
}

/** Entries written to the new database per batch. */
const WRITE_BATCH_ENTRIES = 1000;
const WRITE_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Restores `file` into the data dir's store. The caller holds the data dir's lock (the daemon is stopped).
 * Throws (leaving the store as it was) when the archive is damaged or what it holds does not verify.
 */
export async function restoreArchive(dataDir: string, file: string): Promise<RestoreReport> {
  const source = path.resolve(file);
  if (!fs.existsSync(source)) throw new Error(`${source} does not exist`);
  const incoming = prepareIncoming(dataDir);
  let database: Database | undefined;
  let header: ArchiveHeader | undefined;
  try {
    database = await openLocation(dataDir, incoming, { create: true, maxOpenTables: 16 });
    const db = database.db;
    let batch: Array<{ type: 'put'; key: Buffer; value: Buffer }> = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await db.batch(batch as never, { keyEncoding: 'buffer', valueEncoding: 'buffer' } as never);
      batch = [];
      bytes = 0;
    };
    const summary = await readArchive(
      source,
      (found) => {
        header = found;
      },
      async (key, value) => {
        // Copies: the archive reader reuses its buffer.
        batch.push({ type: 'put', key: Buffer.from(key), value: Buffer.from(value) });
        bytes += key.length + value.length;
        if (batch.length >= WRITE_BATCH_ENTRIES || bytes >= WRITE_BATCH_BYTES) await flush();
      },
    );
    await flush();
    // One synced write makes everything before it durable (LevelDB's log is written in order).
    await db.put('\u0000restored', new Date().toISOString(), { sync: true } as never);
    await db.del('\u0000restored', { sync: true } as never);
    // The archive's hash vouches for every byte; a quick verify checks that the records agree with each other.
    const verify = await verifyDatabase(database, { quick: true, exclusive: true });
    if (!verify.ok) {
      throw new StoreError(
        'damaged',
        `the backup ${source} holds a store that does not verify (${verify.problems.length} problems, the first: ${verify.problems[0]?.text}); the store was left as it was`,
      );
    }
    await database.close();
    database = undefined;
    const previous = swapInIncoming(dataDir, `before-restore-${stamp()}`);
    return { file: source, entries: summary.entries, createdAt: header?.createdAt ?? 'unknown', ...(previous ? { previous } : {}), verify };
  } catch (err) {
    await database?.close().catch(() => undefined);
    fs.rmSync(incomingLocation(dataDir), { recursive: true, force: true });
    throw err;
  }
}

/** A timestamp for file names: 2026-12-02T19-40-18Z. */
export function stamp(at = new Date()): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}
