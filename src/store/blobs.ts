/**
 * Blobs: each message's raw bytes, exactly as received, named by their content hash and shared by every
 * copy (COPY, a Sent copy of a submission). A reference count says how many messages and outbox entries
 * hold a blob. When the last reference goes, the blob and its index stay until no reader retains them
 * (blob-retention.ts: a session may still show an expunged message), and go in a later batch.
 *
 * A blob is kept whole in one value, or — a large message the poller streamed in — as chunks with a manifest
 * (blob-chunks.ts). A new chunked blob's reference brings its spooled chunk set; if the blob exists already
 * (the same bytes arrived before), the new set is deleted in the same batch.
 *
 * Parts add and drop references in a transaction; the counts settle once, just before the batch is
 * written, so a transaction that adds and drops the same blob (MOVE) writes nothing for it. A blob gets
 * its index (message-indexes.ts) once a mailbox refers to it; one only the outbox holds has none.
 */
import { indexMessage, type MessageIndex } from '../mime/index.js';
import type { BlobChunks, ChunkedBlob, SpooledBlob } from './blob-chunks.js';
import { readBlob } from './blob-read.js';
import type { BlobRetention } from './blob-retention.js';
import type { Sublevels } from './database.js';
import { StoreError } from './errors.js';
import type { MessageIndexes } from './message-indexes.js';
import type { Transaction } from './transaction.js';

export { blobIdOf, readBlob } from './blob-read.js';

/**
 * A message's bytes as the store needs them to add a reference: when the blob may be new, its bytes in
 * `raw`, or a chunk set already on disk in `spooled`.
 */
export interface BlobRef {
  id: string;
  size: number;
  raw?: Buffer;
  spooled?: SpooledBlob;
  /**
   * The message's index, for a reference from a mailbox (SEARCH and FETCH read it). An outbox entry's
   * reference needs none: only what lands in a mailbox is indexed.
   */
  index?: MessageIndex;
}

/** What one transaction does to one blob's count. */
interface PendingCount {
  delta: number;
  raw?: Buffer;
  spooled?: SpooledBlob;
  index?: MessageIndex;
  /** Spooled sets of the same bytes that this transaction does not need (deleted with it). */
  spare: SpooledBlob[];
}

export class Blobs {
  /** Reference counts read or written so far (every blob a list in memory refers to, at most). */
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly sub: Pick<Sublevels, 'blob' | 'blobref' | 'blobchunks' | 'chunk' | 'chunkset'>,
    private readonly indexes: MessageIndexes,
    private readonly retention: BlobRetention,
    readonly chunks: BlobChunks,
  ) {}

  /**
   * The raw bytes of a blob (a chunked one joined once), checked against their hash (readBlob); a
   * StoreError `damaged` when they cannot be read or do not match, so one broken message fails alone.
   */
  async get(blobId: string): Promise<Buffer> {
    const raw = await this.find(blobId);
    if (raw === undefined) throw new StoreError('not-found', `blob ${blobId} is missing`);
    return raw;
  }

  /** The raw bytes of a blob, or undefined when there is no such blob. */
  async find(blobId: string): Promise<Buffer | undefined> {
    return readBlob(this.sub, blobId);
  }

  /**
   * The index of a spooled blob, before the write queue: from `bytes` when the caller holds them, else from
   * its chunks read back once (the only whole copy in memory); undefined when the blob exists already.
   */
  async indexSpooled(spooled: SpooledBlob, bytes?: Buffer): Promise<MessageIndex | undefined> {
    // Outside the write queue, so the database may be reopening (write-recovery.ts): the async read waits for that.
    const count = this.counts.get(spooled.id) ?? (await this.sub.blobref.get(spooled.id)) ?? 0;
    if (count > 0) return undefined;
    return indexMessage(bytes !== undefined && bytes.length === spooled.size ? bytes : await this.chunks.read(spooled));
  }

  /** Deletes a spooled set nobody will reference (a duplicate ingest), in a transaction. */
  discardSpooled(txn: Transaction, spooled: SpooledBlob): void {
    this.chunks.remove(txn, spooled);
  }

  /**
   * What chunk storage holds: sets still being written (or left by a crash until the next open), chunked
   * blobs, and chunks that belong to neither a set in progress nor a blob (must be none).
   */
  async chunkReport(): Promise<{ spools: number; chunkedBlobs: number; chunks: number; strayChunks: number }> {
    const { spools, chunks, sets } = await this.chunks.stats();
    const owned = new Set<string>();
    let chunkedBlobs = 0;
    for await (const manifest of this.sub.blobchunks.values()) {
      owned.add(manifest.set);
      chunkedBlobs++;
    }
    for await (const set of this.sub.chunkset.keys()) owned.add(set);
    let strayChunks = 0;
    for (const set of sets) if (!owned.has(set)) strayChunks++;
    return { spools, chunkedBlobs, chunks, strayChunks };
  }

  /** Adds one reference (a message, an outbox entry); a new blob needs its bytes in `ref.raw` or `ref.spooled`. */
  addRef(txn: Transaction, ref: BlobRef): void {
    const entry = this.pending(txn, ref.id);
    entry.delta += 1;
    if (ref.raw) entry.raw ??= ref.raw;
    if (ref.spooled) {
      if (entry.spooled === undefined && entry.raw === undefined) entry.spooled = ref.spooled;
      else if (entry.spooled?.set !== ref.spooled.set) entry.spare.push(ref.spooled);
    }
    if (ref.index) entry.index = ref.index;
  }

  /** Drops one reference; the last one takes the blob and its index with it. */
  dropRef(txn: Transaction, blobId: string): void {
    this.pending(txn, blobId).delta -= 1;
  }

  private pending(txn: Transaction, blobId: string): PendingCount {
    const counts = txn.state(this, () => {
      const created = new Map<string, PendingCount>();
      txn.beforeWrite(() => this.settle(txn, created));
      return created;
    });
    let entry = counts.get(blobId);
    if (!entry) {
      entry = { delta: 0, spare: [] };
      counts.set(blobId, entry);
    }
    return entry;
  }

  /**
   * The blob's reference count. Read synchronously: this runs inside the write queue, once per new blob
   * of an APPEND or ingest, and a small key is found (or its absence told by the tables' filters) in
   * microseconds, while a trip through the thread pool held the one queue for a round of the event loop.
   * Only under the queue: nothing reopens the database meanwhile (getSync does not wait for an open).
   */
  private count(blobId: string): number {
    return this.counts.get(blobId) ?? this.sub.blobref.getSync(blobId) ?? 0;
  }

  /** Turns the transaction's reference changes into puts and deletes of blob, index and count. */
  private async settle(txn: Transaction, pending: Map<string, PendingCount>): Promise<void> {
    for (const [blobId, change] of pending) {
      for (const spare of change.spare) this.chunks.remove(txn, spare);
      // A blob only the outbox held can land in a mailbox in the batch that drops the outbox's
      // reference (a Sent copy): its count does not change, but it needs its index now.
      if (change.delta === 0) {
        if (change.spooled) this.chunks.remove(txn, change.spooled);
        if (change.index && !(await this.indexes.has(blobId))) this.indexes.put(txn, blobId, change.index);
        continue;
      }
      const before = this.count(blobId);
      const after = Math.max(0, before + change.delta);
      if (before === 0 && after > 0) {
        await this.create(txn, blobId, change);
        this.retention.revived(txn, blobId);
      } else {
        // The bytes are here already: a spooled copy of them goes.
        if (change.spooled) this.chunks.remove(txn, change.spooled);
        if (after > 0 && change.index && !(await this.indexes.has(blobId))) this.indexes.put(txn, blobId, change.index);
      }
      if (after === 0) {
        // The bytes (whole or chunked) and the index go later, once no reader retains them.
        this.retention.orphaned(txn, blobId);
        txn.del(this.sub.blobref, blobId);
      } else {
        txn.put(this.sub.blobref, blobId, after);
      }
      txn.afterCommit(() => {
        if (after === 0) this.counts.delete(blobId);
        else this.counts.set(blobId, after);
      });
    }
  }

  /** The bytes of a blob that gets its first reference: one value, or a spooled set made its chunks. */
  private async create(txn: Transaction, blobId: string, change: PendingCount): Promise<void> {
    // An orphan not yet deleted (its bytes still here) that gets a reference again keeps its chunks.
    const existing = this.sub.blobchunks.getSync(blobId);
    if (change.raw || existing !== undefined) {
      if (change.spooled) this.chunks.remove(txn, change.spooled);
      if (change.raw && existing === undefined) txn.put(this.sub.blob, blobId, change.raw);
      if (change.raw && change.index) this.indexes.put(txn, blobId, change.index);
      else if (change.index && !(await this.indexes.has(blobId))) this.indexes.put(txn, blobId, change.index);
      return;
    }
    const spooled = change.spooled;
    if (!spooled) {
      // An orphan whose whole value is still here, referenced again by id alone (a COPY never does this).
      if (await this.sub.blob.has(blobId)) return;
      throw new Error(`blob ${blobId} is referenced but its bytes were not given`);
    }
    const manifest: ChunkedBlob = { set: spooled.set, chunks: spooled.chunks, size: spooled.size };
    txn.put(this.sub.blobchunks, blobId, manifest);
    this.chunks.commit(txn, spooled.set);
    // Indexed before the queue (indexSpooled) unless the blob existed then and went meanwhile.
    this.indexes.put(txn, blobId, change.index ?? indexMessage(await this.chunks.read(spooled)));
  }
}
