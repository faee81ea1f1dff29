/**
 * `hotbridge verify`: reads the whole store from one LevelDB snapshot (so it works while the daemon writes)
 * and checks what must hold for no mail to be lost or served wrong:
 * - every message record is whole, belongs to a mailbox, has a UID below the mailbox's UIDNEXT and a
 *   mod-sequence not above its HIGHESTMODSEQ (UIDs only grow, ARCHITECTURE.md invariant 3);
 * - every blob a message or an outbox entry refers to is there and matches its hash, and nothing stored
 *   is referred to by nothing (a message whose record was lost);
 * - every blob's reference count is the number of its references;
 * - every blob's index is there and is what indexing the blob gives now (unless `quick`);
 * - the POP3 ledger and the outbox entries are whole;
 * - and LevelDB can read every part of the files (a damaged table shows up as an unreadable part).
 * It changes nothing. The result is a list of problems in words, and the damaged or lost messages by
 * mailbox, date, sender and subject.
 */
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { indexMessage, MESSAGE_INDEX_VERSION, type MessageIndex } from '../mime/index.js';
import { readBlob, storedBlobIds } from './blob-read.js';
import type { StagedMessage } from './import-staging.js';
import type { Database, Snapshot, StoredIndex, StoredMessage } from './database.js';
import { StoreError } from './errors.js';
import { uidlFromPop3Key } from './keys.js';
import { describeSummary, senderAndSubject, type MessageSummary } from './message-summary.js';
import { SCHEMA_VERSION } from './migrations.js';
import type { MailboxRecord, OutboxEntry, Pop3LedgerEntry } from './records.js';
import { levelMessage } from './store-health.js';
import { megabytes } from '../runtime/sizes.js';
import { MappedPages } from './mapped-pages.js';
import { findChunkLeftovers, type ChunkSet } from './chunk-leftovers.js';

export interface VerifyOptions {
  /** Skip re-indexing every message (doctor's quick look); blobs are still read and hashed. */
  quick?: boolean;
  /** Called now and then with the number of blobs checked so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * This process has the database to itself (verify or restore with the daemon stopped): it may reopen it
   * on the way, which unmaps the table files read so far (mapped-pages.ts). Nothing writes meanwhile, so
   * the snapshot taken after a reopen sees the same store.
   */
  exclusive?: boolean;
}

export type ProblemArea = 'database' | 'mailboxes' | 'messages' | 'blobs' | 'indexes' | 'references' | 'pop3' | 'outbox';

export interface VerifyProblem {
  area: ProblemArea;
  text: string;
}

export interface VerifyReport {
  ok: boolean;
  checkedAt: string;
  /** `orphans`: blobs of expunged messages awaiting deletion (blob-retention.ts), counted in `blobs` too. */
  counts: { mailboxes: number; messages: number; blobs: number; bytes: number; outbox: number; pop3: number; orphans: number };
  problems: VerifyProblem[];
  /** Messages whose bytes are damaged or gone, as a person would recognise them. */
  damaged: Array<MessageSummary & { problem: string }>;
  /**
   * What is stored but part of no message, and is no problem (nothing is lost, nothing is served wrong):
   * chunks of a large message a fetch left unfinished or that belong to nothing, messages of an import
   * that was cut short. `repair` deletes them; the next start deletes all but the stray chunks.
   */
  leftovers: { unfinishedChunkSets: number; strayChunkSets: number; chunkBytes: number; stagedImports: number };
  /** The leftovers (or what is under way while the daemon runs) in words: informational, not problems. */
  notes: string[];
}

/** At most this many problems of one kind are listed one by one; the rest are counted. */
const LISTED_PER_KIND = 50;
/** Blobs between two yields to the event loop (the daemon keeps serving while it verifies). */
const YIELD_EVERY = 64;

/** Problems of one kind: the first few in full, then a count. */
class ProblemList {
  private readonly counts = new Map<string, number>();
  readonly items: VerifyProblem[] = [];

  add(area: ProblemArea, kind: string, text: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n <= LISTED_PER_KIND) this.items.push({ area, text });
  }

  /** Adds "and N more" lines for kinds with more than were listed. */
  finish(): VerifyProblem[] {
    for (const [kind, n] of this.counts) {
      if (n > LISTED_PER_KIND) this.items.push({ area: 'database', text: `… and ${n - LISTED_PER_KIND} more like that (${kind})` });
    }
    return this.items;
  }
}

/** Iterates a sublevel from the snapshot; an unreadable part becomes a problem, and the rest is still read. */
async function scan<V>(
  sublevel: { iterator(options: object): AsyncIterable<[string, V]> & { close(): Promise<void> } },
  snapshot: Snapshot,
  what: string,
  problems: ProblemList,
  each: (key: string, value: V) => void | Promise<void>,
): Promise<void> {
  try {
    for await (const [key, value] of sublevel.iterator({ snapshot })) await each(key, value);
  } catch (err) {
    problems.add(
      'database',
      'unreadable',
      `part of the ${what} cannot be read: the store's files are damaged (LevelDB: ${levelMessage(err)}); entries after the damage may be missing from this check`,
    );
  }
}

/** The checks, on an open database (the daemon's own handle, or one opened for this). */
export async function verifyDatabase(database: Database, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { sub } = database;
  let snapshot = database.db.snapshot();
  const mapped = new MappedPages();
  let bytesSinceCheck = 0;
  const problems = new ProblemList();
  const counts = { mailboxes: 0, messages: 0, blobs: 0, bytes: 0, outbox: 0, pop3: 0, orphans: 0 };
  try {
    const schema = await sub.meta.get('schema', { snapshot }).catch(() => undefined);
    if (schema !== SCHEMA_VERSION)
      problems.add('database', 'schema', `the store's schema version is ${JSON.stringify(schema)}, expected ${SCHEMA_VERSION}`);

    // Mailboxes.
    const mailboxes = new Map<number, MailboxRecord>();
    const names = new Set<string>();
    await scan<MailboxRecord>(sub.mailbox, snapshot, 'mailbox list', problems, (key, record) => {
      counts.mailboxes++;
      if (
        !record ||
        typeof record.id !== 'number' ||
        Number(key) !== record.id ||
        typeof record.name !== 'string' ||
        !(record.uidNext >= 1) ||
        !(record.uidValidity >= 1)
      ) {
        problems.add('mailboxes', 'bad mailbox', `mailbox record ${key} is damaged: ${JSON.stringify(record).slice(0, 200)}`);
        return;
      }
      const name = `${record.account}\u0000${record.name}`;
      if (names.has(name)) problems.add('mailboxes', 'duplicate', `${record.account} has two mailboxes named ${record.name}`);
      names.add(name);
      mailboxes.set(record.id, record);
    });

    // Message records: references to blobs, UID and mod-sequence rules.
    const refs = new Map<string, number>();
    const addRef = (blobId: string) => refs.set(blobId, (refs.get(blobId) ?? 0) + 1);
    const orphanRecords = new Map<number, number>();
    await scan<StoredMessage>(sub.message, snapshot, 'message list', problems, (key, value) => {
      counts.messages++;
      const mailboxId = Number(key.slice(0, 10));
      const uid = Number(key.slice(11));
      if (
        !Array.isArray(value) ||
        typeof value[0] !== 'string' ||
        !Array.isArray(value[1]) ||
        typeof value[2] !== 'number' ||
        typeof value[3] !== 'number' ||
        typeof value[4] !== 'number'
      ) {
        problems.add('messages', 'bad message', `the record of message UID ${uid} in mailbox ${mailboxId} is damaged`);
        return;
      }
      addRef(value[0]);
      const mailbox = mailboxes.get(mailboxId);
      if (!mailbox) {
        orphanRecords.set(mailboxId, (orphanRecords.get(mailboxId) ?? 0) + 1);
        return;
      }
      if (!(uid >= 1) || uid >= mailbox.uidNext)
        problems.add(
          'messages',
          'uidnext',
          `${mailbox.name} of ${mailbox.account}: message UID ${uid} is not below UIDNEXT ${mailbox.uidNext} (a new message could get its UID)`,
        );
      if (value[4] > mailbox.highestModseq)
        problems.add(
          'messages',
          'modseq',
          `${mailbox.name} of ${mailbox.account}: message UID ${uid} has mod-sequence ${value[4]}, above the mailbox's HIGHESTMODSEQ ${mailbox.highestModseq}`,
        );
    });
    for (const [mailboxId, n] of orphanRecords)
      problems.add(
        'mailboxes',
        'lost mailbox',
        `${n} message${n === 1 ? '' : 's'} belong to a mailbox (id ${mailboxId}) whose record is gone`,
      );

    // Outbox entries hold references too.
    const outboxEntries: OutboxEntry[] = [];
    await scan<OutboxEntry>(sub.outbox, snapshot, 'outbox', problems, (key, entry) => {
      counts.outbox++;
      if (
        !entry ||
        entry.id !== key ||
        typeof entry.blobId !== 'string' ||
        !Array.isArray(entry.pending) ||
        !Array.isArray(entry.recipients)
      ) {
        problems.add('outbox', 'bad outbox', `outbox entry ${key} is damaged`);
        return;
      }
      if (entry.pending.some((recipient) => !entry.recipients.includes(recipient)))
        problems.add('outbox', 'bad outbox', `outbox entry ${key} waits for recipients it was never sent to`);
      addRef(entry.blobId);
      outboxEntries.push(entry);
    });

    // An import under way holds references through its staging entries (import-staging.ts).
    let staged = 0;
    await scan<StagedMessage>(sub.staging, snapshot, 'imports under way', problems, (_key, entry) => {
      staged++;
      if (entry && typeof entry.blobId === 'string') addRef(entry.blobId);
    });

    // Blobs: each one read and hashed, its index checked; what is referenced but absent, and the reverse.
    const orphans = new Set<string>();
    await scan<unknown>(sub.orphan, snapshot, 'orphan marks', problems, (blobId) => {
      orphans.add(blobId);
    });
    const storedBlobs = new Set<string>();
    try {
      // Whole and chunked (large POP3 messages, blob-chunks.ts) alike.
      for (const key of await storedBlobIds(sub, { snapshot })) storedBlobs.add(key);
    } catch (err) {
      problems.add('database', 'unreadable', `part of the message contents cannot be read (LevelDB: ${levelMessage(err)})`);
    }
    const damagedBlobs = new Map<string, string>();
    let done = 0;
    const total = storedBlobs.size;
    for (const blobId of storedBlobs) {
      if (++done % YIELD_EVERY === 0) {
        if (options.exclusive && mapped.grown(bytesSinceCheck)) {
          await snapshot.close();
          await database.reopen();
          snapshot = database.db.snapshot();
          mapped.released();
        }
        bytesSinceCheck = 0;
        options.onProgress?.(done, total);
        await yieldToEvents();
      }
      let raw: Buffer | undefined;
      try {
        raw = await readBlob(sub, blobId, { snapshot });
      } catch (err) {
        damagedBlobs.set(blobId, err instanceof StoreError ? 'its bytes are damaged' : levelMessage(err));
        continue;
      }
      if (raw === undefined) continue;
      bytesSinceCheck += raw.length;
      counts.blobs++;
      counts.bytes += raw.length;
      // An orphan (blob-retention.ts): an expunged message a session may still show, deleted once none
      // does (or at the next start). Awaiting deletion, not a lost record.
      if (!refs.has(blobId) && orphans.has(blobId)) counts.orphans++;
      else if (!refs.has(blobId))
        problems.add(
          'references',
          'unreferenced',
          `a stored message (${raw.length} bytes, ${describeSummary(senderAndSubject(indexMessage(raw)))}) belongs to no mailbox: its record was lost; hotbridge repair puts it back`,
        );
      if (!options.quick) await checkIndex(database, snapshot, blobId, raw, problems);
    }
    options.onProgress?.(total, total);
    for (const blobId of refs.keys()) if (!storedBlobs.has(blobId)) damagedBlobs.set(blobId, 'its bytes are gone');

    for (const blobId of orphans) {
      const n = refs.get(blobId);
      if (n !== undefined)
        problems.add(
          'references',
          'orphan mark',
          `message ${blobId.slice(0, 12)}… is marked for deletion but referred to ${n} times: the next start would delete it (repair removes the mark)`,
        );
    }

    // Reference counts.
    const counted = new Map<string, number>();
    await scan<number>(sub.blobref, snapshot, 'reference counts', problems, (blobId, count) => {
      counted.set(blobId, count);
      const actual = refs.get(blobId) ?? 0;
      if (count !== actual)
        problems.add(
          'references',
          'refcount',
          `message ${blobId.slice(0, 12)}… is counted ${count} times but referred to ${actual} times (repair recounts)`,
        );
    });
    for (const [blobId, n] of refs)
      if (storedBlobs.has(blobId) && !counted.has(blobId))
        problems.add(
          'references',
          'refcount',
          `message ${blobId.slice(0, 12)}… is referred to ${n} times but has no count (repair recounts)`,
        );

    // POP3 ledger.
    await scan<Pop3LedgerEntry>(sub.pop3, snapshot, 'POP3 ledger', problems, (key, entry) => {
      counts.pop3++;
      if (!entry || entry.uidl !== uidlFromPop3Key(key) || typeof entry.blobId !== 'string' || typeof entry.fetchedAt !== 'number') {
        problems.add(
          'pop3',
          'bad ledger',
          `the POP3 ledger entry ${JSON.stringify(uidlFromPop3Key(key))} is damaged (the message could be fetched again or not deleted upstream)`,
        );
      }
    });

    // Who owned what was damaged or lost.
    const damaged: VerifyReport['damaged'] = [];
    if (damagedBlobs.size > 0) {
      await scan<StoredMessage>(sub.message, snapshot, 'message list', new ProblemList(), async (key, value) => {
        if (!Array.isArray(value) || !damagedBlobs.has(value[0])) return;
        const mailbox = mailboxes.get(Number(key.slice(0, 10)));
        const index = await readIndex(database, snapshot, value[0]);
        damaged.push({
          account: mailbox?.account,
          mailbox: mailbox?.name,
          uid: Number(key.slice(11)),
          date: new Date(value[2]).toISOString(),
          ...senderAndSubject(index),
          problem: damagedBlobs.get(value[0])!,
        });
      });
      for (const entry of outboxEntries) {
        if (damagedBlobs.has(entry.blobId))
          damaged.push({
            account: entry.account,
            mailbox: 'the outbox',
            date: new Date(entry.createdAt).toISOString(),
            ...senderAndSubject(await readIndex(database, snapshot, entry.blobId)),
            problem: damagedBlobs.get(entry.blobId)!,
          });
      }
      for (const message of damaged) problems.add('blobs', 'damaged message', `${describeSummary(message)}: ${message.problem}`);
    }
    // Leftovers: informational (chunk-leftovers.ts).
    const notes: string[] = [];
    const leftovers = { unfinishedChunkSets: 0, strayChunkSets: 0, chunkBytes: 0, stagedImports: staged };
    try {
      const chunks = await findChunkLeftovers(sub, snapshot);
      leftovers.unfinishedChunkSets = chunks.unfinished.length;
      leftovers.strayChunkSets = chunks.stray.length;
      const size = (sets: ChunkSet[]) => sets.reduce((sum, set) => sum + set.bytes, 0);
      leftovers.chunkBytes = size(chunks.unfinished) + size(chunks.stray);
      const n = chunks.unfinished.length;
      if (n > 0)
        notes.push(
          options.exclusive
            ? `${n} large message${n === 1 ? ' was' : 's were'} being fetched when hotbridge stopped (${megabytes(size(chunks.unfinished))} written so far): deleted at the next start or by hotbridge repair, and fetched again from the provider`
            : `${n} large message${n === 1 ? ' is' : 's are'} being fetched now (${megabytes(size(chunks.unfinished))} written so far)`,
        );
      if (chunks.stray.length > 0)
        notes.push(
          `${megabytes(size(chunks.stray))} of message parts (the chunks of ${chunks.stray.length} large message${chunks.stray.length === 1 ? '' : 's'}) belong to no message: left over, nothing is missing for them; hotbridge repair deletes them (or puts a message back whose record still names them)`,
        );
    } catch (err) {
      problems.add('database', 'unreadable', `part of the large messages' chunks cannot be read (LevelDB: ${levelMessage(err)})`);
    }
    if (staged > 0)
      notes.push(
        options.exclusive
          ? `an import was cut short: ${staged} message${staged === 1 ? '' : 's'} it had stored but not yet put in a mailbox are deleted at the next start or by hotbridge repair (import the same files again: nothing is doubled)`
          : `an import is under way: ${staged} message${staged === 1 ? '' : 's'} stored, not yet in a mailbox`,
      );
    const list = problems.finish();
    return { ok: list.length === 0, checkedAt: new Date().toISOString(), counts, problems: list, damaged, leftovers, notes };
  } finally {
    await snapshot.close();
  }
}

async function readIndex(database: Database, snapshot: Snapshot, blobId: string): Promise<MessageIndex | undefined> {
  const stored = (await database.sub.index.get(blobId, { snapshot }).catch(() => undefined)) as StoredIndex | undefined;
  return stored?.index;
}

/** The stored index (and its body text) against a fresh index of the blob. */
async function checkIndex(database: Database, snapshot: Snapshot, blobId: string, raw: Buffer, problems: ProblemList): Promise<void> {
  let stored: StoredIndex | undefined;
  let text: string | undefined;
  try {
    stored = (await database.sub.index.get(blobId, { snapshot })) as StoredIndex | undefined;
    text = (await database.sub.indexText.get(blobId, { snapshot })) as string | undefined;
  } catch (err) {
    problems.add(
      'indexes',
      'index',
      `the index of message ${blobId.slice(0, 12)}… cannot be read (LevelDB: ${levelMessage(err)}); it is rebuilt when read, or by hotbridge repair`,
    );
    return;
  }
  const fresh = indexMessage(raw);
  const what = describeSummary(senderAndSubject(fresh));
  if (!stored) {
    problems.add('indexes', 'index', `message ${what} has no index (SEARCH and ENVELOPE need it; repair rebuilds it)`);
    return;
  }
  // An index by an older indexer is recomputed on first read: not a problem.
  if (stored.v !== MESSAGE_INDEX_VERSION) return;
  if (
    JSON.stringify({ ...stored.index, text: '' }) !== JSON.stringify({ ...fresh, text: '' }) ||
    (text !== undefined && text !== fresh.text)
  ) {
    problems.add('indexes', 'index', `the index of message ${what} does not match the message (repair rebuilds it)`);
  }
}
