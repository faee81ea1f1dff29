/**
 * After LevelDB's own repair (which salvages every entry it can still read from the files): make the
 * store whole again from what is left, with the blobs — the messages' bytes — as the truth.
 *
 * - A blob whose bytes do not match their hash is damaged: it goes, and every message that was it is
 *   reported lost (mailbox, date, sender, subject, as far as the index still tells).
 * - A message record whose blob is gone goes too, reported the same way; an outbox entry likewise.
 * - A blob marked an orphan (an expunged message a session still showed, blob-retention.ts) is not lost:
 *   it is deleted, as the next start would. A mark on a blob still referred to is removed.
 * - A blob that no record refers to is a message whose record was lost: it is put back, into the
 *   mailbox "Recovered" of its account (the POP3 ledger says whose it was, else the first account).
 * - Messages of a mailbox whose record was lost get a new mailbox record ("Recovered <n>").
 * - Every index is computed again from its blob; every reference count is counted again; each mailbox's
 *   UIDNEXT and HIGHESTMODSEQ are raised above what its messages use (UIDs are never reused).
 * - The POP3 ledger gets back the entries of messages the poller fetched (their records carry the UIDL),
 *   so the next poll does not fetch them again.
 * Writes go in batches: this runs on a copy that becomes the store only afterwards (repair.ts).
 */
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { indexMessage, MESSAGE_INDEX_VERSION, type MessageIndex } from '../mime/index.js';
import { blobIdOf, chunkRange, hasStoredBlob, readChunks, readStoredBlob, storedBlobIds } from './blob-read.js';
import { findChunkLeftovers, type ChunkSet } from './chunk-leftovers.js';
import type { Database, StoredIndex, StoredMessage } from './database.js';
import { mailboxKey, messageKey, pop3Key, subscriptionKey, uidlFromPop3Key } from './keys.js';
import { senderAndSubject, type MessageSummary } from './message-summary.js';
import { SCHEMA_VERSION } from './migrations.js';
import type { MailboxRecord, OutboxEntry, Pop3LedgerEntry } from './records.js';
import type { AnySublevel } from './transaction.js';

export interface RebuildReport {
  messages: number;
  /** Messages (and outbox entries) that could not be saved. */
  lost: Array<MessageSummary & { problem: string; uidl?: string }>;
  /** Blobs put back into a "Recovered" mailbox because their records were lost. */
  recovered: number;
  /** Mailbox records made again for messages whose mailbox record was lost. */
  mailboxesRecreated: string[];
  referenceCountsFixed: number;
  countersRaised: number;
  ledgerEntriesRestored: number;
  indexesRebuilt: number;
  /** Blobs of expunged messages that were awaiting deletion (orphans), deleted. */
  orphansDeleted: number;
  /** Orphan marks on blobs still referred to (they would have been deleted at the next start), removed. */
  orphanMarksCleared: number;
  /** Chunks of large messages that were part of none (chunk-leftovers.ts), deleted: sets and bytes. */
  leftoverChunks: { sets: number; bytes: number };
  /** Chunk sets that were a whole message a record names, whose manifest was lost: put back. */
  chunkSetsReattached: number;
  /** Messages of an import that was cut short, deleted. */
  stagedImportsDeleted: number;
}

/** The folder that receives messages whose records were lost. */
export const RECOVERED_MAILBOX = 'Recovered';

type Op = { type: 'put'; sublevel: AnySublevel; key: string; value: unknown } | { type: 'del'; sublevel: AnySublevel; key: string };

/** Batches writes so that memory stays bounded; the last flush is synced. */
class Writer {
  private ops: Op[] = [];
  private bytes = 0;
  constructor(private readonly database: Database) {}
  put(sublevel: AnySublevel, key: string, value: unknown, size = 64): Promise<void> {
    this.ops.push({ type: 'put', sublevel, key, value });
    return this.grow(size);
  }
  del(sublevel: AnySublevel, key: string): Promise<void> {
    this.ops.push({ type: 'del', sublevel, key });
    return this.grow(32);
  }
  private async grow(size: number): Promise<void> {
    this.bytes += size;
    if (this.ops.length >= 2000 || this.bytes >= 8 * 1024 * 1024) await this.flush(false);
  }
  async flush(sync: boolean): Promise<void> {
    if (this.ops.length === 0 && !sync) return;
    const ops = this.ops;
    this.ops = [];
    this.bytes = 0;
    await this.database.db.batch(ops as never, { sync } as never);
  }
}

/** Deletes a blob's bytes, whole or chunked (its manifest and every chunk of its set that is left). */
async function deleteBlob(w: Writer, database: Database, blobId: string): Promise<void> {
  const { sub } = database;
  await w.del(sub.blob, blobId);
  const manifest = await sub.blobchunks.get(blobId).catch(() => undefined);
  if (manifest === undefined) return;
  await w.del(sub.blobchunks, blobId);
  try {
    for await (const key of sub.chunk.keys(chunkRange(manifest.set))) await w.del(sub.chunk, key);
  } catch {
    // Unreadable parts: those chunks are gone already.
  }
}

/**
 * Chunks that are part of no message (chunk-leftovers.ts). A stray set whose bytes are a whole message that
 * a message or outbox record names, and whose bytes are not stored otherwise, lost only its manifest: it is
 * put back. Everything else goes: unfinished fetches (the poller fetches those messages again) and waste.
 */
async function cleanChunkLeftovers(w: Writer, database: Database, report: RebuildReport): Promise<void> {
  const { sub } = database;
  let leftovers;
  try {
    leftovers = await findChunkLeftovers(sub);
  } catch {
    return; // Unreadable parts: what can be read of them is dealt with below as blobs.
  }
  if (leftovers.unfinished.length + leftovers.stray.length === 0) return;
  const named = new Set<string>();
  if (leftovers.stray.length > 0) {
    for (const [, value] of await readAll<StoredMessage>(sub.message)) if (Array.isArray(value)) named.add(value[0]);
    for (const [, entry] of await readAll<OutboxEntry>(sub.outbox)) if (entry) named.add(entry.blobId);
  }
  const drop = async (set: ChunkSet) => {
    for await (const key of sub.chunk.keys(chunkRange(set.set))) await w.del(sub.chunk, key);
    await w.del(sub.chunkset, set.set);
    report.leftoverChunks.sets++;
    report.leftoverChunks.bytes += set.bytes;
  };
  for (const set of leftovers.unfinished) await drop(set);
  for (const set of leftovers.stray) {
    const manifest = { set: set.set, chunks: set.chunks, size: set.bytes };
    const raw = await readChunks(sub, manifest).catch(() => undefined);
    const blobId = raw && blobIdOf(raw);
    if (blobId && named.has(blobId) && !(await hasStoredBlob(sub, blobId).catch(() => true))) {
      await w.put(sub.blobchunks, blobId, manifest);
      report.chunkSetsReattached++;
    } else await drop(set);
  }
  // The blobs are listed next: they must see this.
  await w.flush(false);
}

/** Every entry of a sublevel that can still be read (an entry that cannot be decoded is skipped). */
async function readAll<V>(sublevel: AnySublevel): Promise<Array<[string, V]>> {
  const out: Array<[string, V]> = [];
  try {
    for await (const entry of sublevel.iterator() as AsyncIterable<[string, V]>) out.push(entry);
  } catch {
    // What LevelDB still cannot read after its repair is gone; the rest was read.
  }
  return out;
}

export async function rebuildFromBlobs(database: Database, accounts: readonly string[]): Promise<RebuildReport> {
  const { sub } = database;
  const w = new Writer(database);
  const report: RebuildReport = {
    messages: 0,
    lost: [],
    recovered: 0,
    mailboxesRecreated: [],
    referenceCountsFixed: 0,
    countersRaised: 0,
    ledgerEntriesRestored: 0,
    indexesRebuilt: 0,
    orphansDeleted: 0,
    orphanMarksCleared: 0,
    leftoverChunks: { sets: 0, bytes: 0 },
    chunkSetsReattached: 0,
    stagedImportsDeleted: 0,
  };
  await cleanChunkLeftovers(w, database, report);

  // Blobs that are whole. Damaged ones go now (with what hangs on them), their owners are found below.
  const whole = new Set<string>();
  const damaged = new Set<string>();
  const blobKeys: string[] = [];
  try {
    // Whole and chunked (large POP3 messages, blob-chunks.ts) alike.
    blobKeys.push(...(await storedBlobIds(sub)));
  } catch {
    // Unreadable parts: those blobs are lost.
  }
  const oldIndexes = new Map<string, MessageIndex>();
  for (const blobId of blobKeys) {
    const raw = await readStoredBlob(sub, blobId).catch(() => undefined);
    if (raw !== undefined && blobIdOf(raw) === blobId) {
      whole.add(blobId);
      continue;
    }
    damaged.add(blobId);
    const index = (await sub.index.get(blobId).catch(() => undefined)) as StoredIndex | undefined;
    if (index) oldIndexes.set(blobId, index.index);
    await deleteBlob(w, database, blobId);
  }
  const indexOf = async (blobId: string): Promise<MessageIndex | undefined> =>
    oldIndexes.get(blobId) ?? ((await sub.index.get(blobId).catch(() => undefined)) as StoredIndex | undefined)?.index;

  // Mailboxes.
  const mailboxes = new Map<number, MailboxRecord>();
  let lastUidValidity = Number((await sub.meta.get('lastUidValidity').catch(() => 0)) ?? 0);
  for (const [key, record] of await readAll<MailboxRecord>(sub.mailbox)) {
    if (
      record &&
      typeof record.id === 'number' &&
      Number(key) === record.id &&
      typeof record.name === 'string' &&
      typeof record.account === 'string'
    ) {
      mailboxes.set(record.id, {
        ...record,
        uidNext: Math.max(1, record.uidNext || 1),
        highestModseq: Math.max(1, record.highestModseq || 1),
      });
      lastUidValidity = Math.max(lastUidValidity, record.uidValidity || 0);
    } else {
      await w.del(sub.mailbox, key);
    }
  }
  const ledger = await readAll<Pop3LedgerEntry>(sub.pop3);
  // Whose a blob was, and when the poller fetched it: for messages whose records are gone.
  const ownerOfBlob = new Map<string, string>();
  const fetchedAt = new Map<string, number>();
  for (const [key, entry] of ledger) {
    if (!entry || typeof entry.blobId !== 'string') continue;
    ownerOfBlob.set(entry.blobId, key.slice(0, key.indexOf('\u0000')));
    if (typeof entry.fetchedAt === 'number') fetchedAt.set(entry.blobId, entry.fetchedAt);
  }
  const fallbackAccount = accounts[0] ?? [...mailboxes.values()][0]?.account ?? 'unknown';
  const newMailbox = (account: string, name: string, id?: number): MailboxRecord => {
    lastUidValidity = Math.max(lastUidValidity + 1, Math.floor(Date.now() / 1000));
    const nextId = id ?? Math.max(0, ...mailboxes.keys()) + 1;
    const record: MailboxRecord = {
      id: nextId,
      account,
      name,
      uidValidity: lastUidValidity,
      uidNext: 1,
      highestModseq: 1,
      vanishedFloor: 0,
      createdAt: Date.now(),
    };
    mailboxes.set(record.id, record);
    return record;
  };

  // Message records: keep those whose blob is whole; count references and what each mailbox uses.
  const refs = new Map<string, number>();
  const ref = (blobId: string) => refs.set(blobId, (refs.get(blobId) ?? 0) + 1);
  const used = new Map<number, { uid: number; modseq: number }>();
  const uidlsKept: Array<{ account: string; uidl: string; blobId: string; at: number }> = [];
  for (const [key, value] of await readAll<StoredMessage>(sub.message)) {
    const mailboxId = Number(key.slice(0, 10));
    const uid = Number(key.slice(11));
    if (!Array.isArray(value) || typeof value[0] !== 'string') {
      await w.del(sub.message, key);
      report.lost.push({ uid, problem: 'its record was damaged' });
      continue;
    }
    const [blobId, , internalDate, , modseq, uidl] = value;
    let mailbox = mailboxes.get(mailboxId);
    if (!whole.has(blobId)) {
      await w.del(sub.message, key);
      report.lost.push({
        account: mailbox?.account,
        mailbox: mailbox?.name,
        uid,
        date: new Date(internalDate).toISOString(),
        ...senderAndSubject(await indexOf(blobId)),
        problem: damaged.has(blobId) ? 'its bytes were damaged' : 'its bytes were lost',
        ...(uidl !== undefined ? { uidl } : {}),
      });
      continue;
    }
    if (!mailbox) {
      const account = ownerOfBlob.get(blobId) ?? fallbackAccount;
      mailbox = newMailbox(account, `${RECOVERED_MAILBOX} ${mailboxId}`, mailboxId);
      await w.put(sub.subscription, subscriptionKey(account, mailbox.name), true);
      report.mailboxesRecreated.push(`${mailbox.name} of ${account}`);
    }
    report.messages++;
    ref(blobId);
    const seen = used.get(mailboxId) ?? { uid: 0, modseq: 0 };
    used.set(mailboxId, { uid: Math.max(seen.uid, uid), modseq: Math.max(seen.modseq, modseq) });
    if (uidl !== undefined) uidlsKept.push({ account: mailbox.account, uidl, blobId, at: internalDate });
  }

  // Outbox entries: kept with their blob, lost without it.
  for (const [key, entry] of await readAll<OutboxEntry>(sub.outbox)) {
    if (entry && typeof entry.blobId === 'string' && whole.has(entry.blobId)) {
      ref(entry.blobId);
      continue;
    }
    await w.del(sub.outbox, key);
    report.lost.push({
      account: entry?.account,
      mailbox: 'the outbox (not yet sent)',
      date: entry?.createdAt ? new Date(entry.createdAt).toISOString() : undefined,
      ...senderAndSubject(entry ? await indexOf(entry.blobId) : undefined),
      problem: 'its bytes were lost before it was sent',
    });
  }
  // An import that was under way never finished: its staged messages go (import-staging.ts).
  // Their bytes go with them, unless something else refers to them (the next start does the same).
  const stagedBlobs = new Set<string>();
  for (const [key, staged] of await readAll<{ blobId?: unknown }>(sub.staging)) {
    await w.del(sub.staging, key);
    if (staged && typeof staged.blobId === 'string') stagedBlobs.add(staged.blobId);
    report.stagedImportsDeleted++;
  }

  // Blobs marked orphans (blob-retention.ts): expunged, awaiting deletion once no session showed them. Not
  // lost records: they go now, as the next start would delete them. A mark on a blob something still
  // refers to would delete a message in use at that start: the mark goes instead.
  for (const [blobId] of await readAll<unknown>(sub.orphan)) {
    await w.del(sub.orphan, blobId);
    if (refs.has(blobId)) {
      report.orphanMarksCleared++;
      continue;
    }
    if (whole.delete(blobId)) await deleteBlob(w, database, blobId);
    report.orphansDeleted++;
  }

  // Blobs no record refers to: messages whose records were lost. They go back into "Recovered".
  const recoveredBoxes = new Map<string, MailboxRecord>();
  for (const blobId of [...whole]) {
    if (refs.has(blobId)) continue;
    if (stagedBlobs.has(blobId)) {
      whole.delete(blobId);
      await deleteBlob(w, database, blobId);
      continue;
    }
    const account = ownerOfBlob.get(blobId) ?? fallbackAccount;
    let box =
      recoveredBoxes.get(account) ??
      [...mailboxes.values()].find((record) => record.account === account && record.name === RECOVERED_MAILBOX);
    if (!box) {
      box = newMailbox(account, RECOVERED_MAILBOX);
      await w.put(sub.subscription, subscriptionKey(account, RECOVERED_MAILBOX), true);
    }
    recoveredBoxes.set(account, box);
    const seen = used.get(box.id) ?? { uid: 0, modseq: 0 };
    const uid = Math.max(box.uidNext, seen.uid + 1);
    const modseq = Math.max(box.highestModseq, seen.modseq) + 1;
    const raw = (await readStoredBlob(sub, blobId)) as Buffer;
    const date = fetchedAt.get(blobId) ?? indexMessage(raw).sentTime ?? Date.now();
    const stored: StoredMessage = [blobId, [], date, raw.length, modseq];
    await w.put(sub.message, messageKey(box.id, uid), stored);
    used.set(box.id, { uid, modseq });
    ref(blobId);
    report.recovered++;
    report.messages++;
  }

  // Mailbox counters above what their messages use.
  for (const record of mailboxes.values()) {
    const seen = used.get(record.id) ?? { uid: 0, modseq: 0 };
    const uidNext = Math.max(record.uidNext, seen.uid + 1);
    const highestModseq = Math.max(record.highestModseq, seen.modseq, 1);
    if (uidNext !== record.uidNext || highestModseq !== record.highestModseq) report.countersRaised++;
    await w.put(sub.mailbox, mailboxKey(record.id), { ...record, uidNext, highestModseq });
  }
  await w.put(sub.meta, 'lastUidValidity', lastUidValidity);
  await w.put(sub.meta, 'schema', (await sub.meta.get('schema').catch(() => undefined)) ?? SCHEMA_VERSION);

  // Reference counts, counted again.
  const counted = new Map(await readAll<number>(sub.blobref));
  for (const [blobId, count] of counted) {
    if (!refs.has(blobId)) {
      await w.del(sub.blobref, blobId);
      report.referenceCountsFixed++;
    } else if (count !== refs.get(blobId)) report.referenceCountsFixed++;
  }
  for (const [blobId, count] of refs) {
    if (counted.get(blobId) === undefined) report.referenceCountsFixed++;
    await w.put(sub.blobref, blobId, count);
  }

  // Indexes, computed again from every blob (and dropped for blobs that are gone).
  for (const [key] of await readAll<unknown>(sub.index)) if (!whole.has(key)) await w.del(sub.index, key);
  for (const [key] of await readAll<unknown>(sub.indexText)) if (!whole.has(key)) await w.del(sub.indexText, key);
  let n = 0;
  for (const blobId of whole) {
    const raw = (await readStoredBlob(sub, blobId)) as Buffer;
    const index = indexMessage(raw);
    await w.put(sub.index, blobId, { v: MESSAGE_INDEX_VERSION, index: { ...index, text: '' } } satisfies StoredIndex, 4096);
    await w.put(sub.indexText, blobId, index.text, index.text.length);
    report.indexesRebuilt++;
    if (++n % 256 === 0) await yieldToEvents();
  }

  // The POP3 ledger: damaged entries go; entries of messages the poller fetched come back.
  const known = new Set<string>();
  for (const [key, entry] of ledger) {
    if (!entry || entry.uidl !== uidlFromPop3Key(key) || typeof entry.blobId !== 'string') await w.del(sub.pop3, key);
    else known.add(key);
  }
  for (const kept of uidlsKept) {
    const key = pop3Key(kept.account, kept.uidl);
    if (known.has(key)) continue;
    known.add(key);
    await w.put(sub.pop3, key, { uidl: kept.uidl, blobId: kept.blobId, fetchedAt: kept.at } satisfies Pop3LedgerEntry);
    report.ledgerEntriesRestored++;
  }

  // QRESYNC history of mailboxes that are gone.
  for (const [key] of await readAll<unknown>(sub.vanished)) if (!mailboxes.has(Number(key.slice(0, 10)))) await w.del(sub.vanished, key);
  await w.flush(true);
  return report;
}
