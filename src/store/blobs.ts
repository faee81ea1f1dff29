/**
 * Blobs: each message's raw bytes, exactly as received, named by their content hash and shared by every
 * copy (COPY, a Sent copy of a submission). A reference count says how many messages and outbox entries
 * hold a blob; the blob and its index go in the same batch as their last reference.
 *
 * A blob is kept whole in one value, or — a large message the poller streamed in — as chunks with a manifest
 * (blob-chunks.ts). A new chunked blob's reference brings its spooled chunk set; if the blob exists already
 * (the same bytes arrived before), the new set is deleted in the same batch.
 *
 * Parts add and drop references in a transaction; the counts settle once, just before the batch is
 * written, so a transaction that adds and drops the same blob (MOVE) writes nothing for it.
 */
import { createHash } from 'node:crypto';
import { indexMessage, type MessageIndex } from '../mime/index.js';
import { BlobChunks, type ChunkedBlob, type SpooledBlob } from './blob-chunks.js';
import type { Sublevels } from './database.js';
import { StoreError } from './errors.js';
import type { MessageIndexes } from './message-indexes.js';
import type { Transaction, WriteQueue } from './transaction.js';

/**
 * A message's bytes as the store needs them to add a reference: when the blob may be new, its bytes in
 * `raw`, or a chunk set already on disk in `spooled`.
 */
export interface BlobRef {
  id: string;
  size: number;
  raw?: Buffer;
  spooled?: SpooledBlob;
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

/** The content hash that names a blob. */
export function blobIdOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

export class Blobs {
  /** Reference counts read or written so far (every blob a list in memory refers to, at most). */
  private readonly counts = new Map<string, number>();
  readonly chunks: BlobChunks;

  constructor(
    private readonly sub: Pick<Sublevels, 'blob' | 'blobref' | 'blobchunks' | 'chunk' | 'chunkset'>,
    private readonly indexes: MessageIndexes,
    queue: WriteQueue,
  ) {
    this.chunks = new BlobChunks(sub, queue);
  }

  /** The raw bytes of a blob (a chunked one joined once). */
  async get(blobId: string): Promise<Buffer> {
    const raw = await this.find(blobId);
    if (raw === undefined) throw new StoreError('NONEXISTENT', `blob ${blobId} is missing`);
    return raw;
  }

  /** The raw bytes of a blob, or undefined when there is no such blob. */
  async find(blobId: string): Promise<Buffer | undefined> {
    const raw = await this.sub.blob.get(blobId);
    if (raw !== undefined) return raw;
    const manifest = await this.sub.blobchunks.get(blobId);
    return manifest === undefined ? undefined : this.chunks.read(manifest);
  }

  /**
   * The index of a spooled blob, before the write queue: from `bytes` when the caller holds them, else from
   * its chunks read back once (the only whole copy in memory); undefined when the blob exists already.
   */
  async indexSpooled(spooled: SpooledBlob, bytes?: Buffer): Promise<MessageIndex | undefined> {
    if ((await this.count(spooled.id)) > 0) return undefined;
    return indexMessage(bytes !== undefined && bytes.length === spooled.size ? bytes : await this.chunks.read(spooled));
  }

  /**
   * What chunk storage holds: sets still being written (or left by a crash until the next open), and chunks
   * that belong to neither such a set nor a blob (must be none).
   */
  async chunkReport(): Promise<{ spools: number; chunkedBlobs: number; chunks: number; strayChunks: number }> {
    const { spools, chunks, sets } = await this.chunks.stats();
    const owned = new Set<string>();
    for await (const manifest of this.sub.blobchunks.values()) owned.add(manifest.set);
    for await (const set of this.sub.chunkset.keys()) owned.add(set);
    let strayChunks = 0;
    for (const set of sets) if (!owned.has(set)) strayChunks++;
    return { spools, chunkedBlobs: owned.size - spools, chunks, strayChunks };
  }

  /** Deletes a spooled set nobody will reference (a duplicate ingest), in a transaction. */
  discardSpooled(txn: Transaction, spooled: SpooledBlob): void {
    this.chunks.remove(txn, spooled);
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

  private async count(blobId: string): Promise<number> {
    const cached = this.counts.get(blobId);
    if (cached !== undefined) return cached;
    return (await this.sub.blobref.get(blobId)) ?? 0;
  }

  /** Turns the transaction's reference changes into puts and deletes of blob, index and count. */
  private async settle(txn: Transaction, pending: Map<string, PendingCount>): Promise<void> {
    const gone: string[] = [];
    for (const [blobId, change] of pending) {
      for (const spare of change.spare) this.chunks.remove(txn, spare);
      const before = await this.count(blobId);
      const after = Math.max(0, before + change.delta);
      const created = before === 0 && after > 0;
      // A spooled copy of bytes we hold already (or that this transaction does not keep) goes.
      if (change.spooled && !(created && change.raw === undefined)) this.chunks.remove(txn, change.spooled);
      if (change.delta === 0) continue;
      if (created) await this.create(txn, blobId, change);
      if (after === 0) {
        gone.push(blobId);
        txn.del(this.sub.blob, blobId);
        this.indexes.delete(txn, blobId);
        txn.del(this.sub.blobref, blobId);
      } else {
        txn.put(this.sub.blobref, blobId, after);
      }
      txn.afterCommit(() => {
        if (after === 0) this.counts.delete(blobId);
        else this.counts.set(blobId, after);
      });
    }
    if (gone.length === 0) return;
    // Chunked ones take their chunks with them.
    const manifests = await this.sub.blobchunks.getMany(gone);
    manifests.forEach((manifest: ChunkedBlob | undefined, i) => {
      if (manifest === undefined) return;
      txn.del(this.sub.blobchunks, gone[i]);
      this.chunks.remove(txn, manifest);
    });
  }

  private async create(txn: Transaction, blobId: string, change: PendingCount): Promise<void> {
    if (change.raw) {
      txn.put(this.sub.blob, blobId, change.raw);
      this.indexes.put(txn, blobId, change.index ?? indexMessage(change.raw));
      return;
    }
    const spooled = change.spooled;
    if (!spooled) throw new Error(`blob ${blobId} is referenced but its bytes were not given`);
    const manifest: ChunkedBlob = { set: spooled.set, chunks: spooled.chunks, size: spooled.size };
    txn.put(this.sub.blobchunks, blobId, manifest);
    this.chunks.commit(txn, spooled.set);
    // Indexed before the queue (indexSpooled) unless the blob existed then and went meanwhile.
    this.indexes.put(txn, blobId, change.index ?? indexMessage(await this.chunks.read(spooled)));
  }
}
