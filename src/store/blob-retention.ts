/**
 * Expunged messages stay readable for as long as a reader still shows them. An IMAP session that has not
 * yet told its client of an expunge (it may not during FETCH, STORE or SEARCH, RFC 3501 §7.4.1) still
 * numbers the message, and may still be asked for it: RFC 2180 §4.1 lets it answer with the message as it
 * was, which is what clients (and Dovecot) expect.
 *
 * So a blob whose last reference goes is not deleted in that batch: the batch marks it an orphan, durably,
 * in the `orphan` sublevel, and a later operation deletes bytes, index and mark once no reader retains the
 * blob. Readers retain blobs in memory only; no reader outlives the process, so at open every orphan an
 * earlier run left (a crash between the two batches, or readers still holding on at shutdown) is deleted.
 * A blob that gets a reference again before it is deleted (the same message appended anew) stops being an
 * orphan in that reference's batch.
 */
import type { BlobChunks, ChunkedBlob } from './blob-chunks.js';
import type { Sublevels } from './database.js';
import type { MessageIndexes } from './message-indexes.js';
import { blobTouches } from './touches.js';
import type { Transaction, WriteQueue } from './transaction.js';

/** Up to this many orphans have their chunk manifests read synchronously inside the write queue. */
const SYNC_READS = 64;

export class BlobRetention {
  /** How many readers retain each blob. */
  private readonly retained = new Map<string, number>();
  /** Blobs without references whose deletion is still to come. */
  private readonly orphans = new Set<string>();
  private collectQueued = false;

  constructor(
    private readonly sub: Pick<Sublevels, 'blob' | 'orphan' | 'blobchunks'>,
    private readonly indexes: MessageIndexes,
    private readonly queue: WriteQueue,
    /** A chunked blob's chunks go with it (blob-chunks.ts). */
    private readonly chunks: BlobChunks,
  ) {}

  /** Reads the orphans an earlier run left and deletes them (at open, before any reader exists). */
  async collectLeftovers(): Promise<void> {
    for await (const blobId of this.sub.orphan.keys()) this.orphans.add(blobId);
    if (this.orphans.size > 0) await this.collect();
  }

  /** The blob lost its last reference in this transaction: marked now, deleted once nobody retains it. */
  orphaned(txn: Transaction, blobId: string): void {
    txn.put(this.sub.orphan, blobId, true);
    txn.afterCommit(() => {
      this.orphans.add(blobId);
      // Queued behind this operation, so the readers hear of the expunge (and retain) first.
      this.scheduleCollect();
    });
  }

  /** The blob is referenced again before it was deleted: it stays. */
  revived(txn: Transaction, blobId: string): void {
    if (!this.orphans.has(blobId)) return;
    txn.del(this.sub.orphan, blobId);
    txn.afterCommit(() => this.orphans.delete(blobId));
  }

  /**
   * Keeps the bytes and indexes of these blobs readable, even once their messages are expunged, until the
   * returned function is called (it may be called more than once).
   */
  retain(blobIds: readonly string[]): () => void {
    for (const blobId of blobIds) this.retained.set(blobId, (this.retained.get(blobId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      let freed = false;
      for (const blobId of blobIds) {
        const count = (this.retained.get(blobId) ?? 1) - 1;
        if (count > 0) this.retained.set(blobId, count);
        else {
          this.retained.delete(blobId);
          if (this.orphans.has(blobId)) freed = true;
        }
      }
      if (freed) this.scheduleCollect();
    };
  }

  private scheduleCollect(): void {
    if (this.collectQueued) return;
    this.collectQueued = true;
    // A closed store refuses the operation: the marks stay, and the next open deletes the blobs.
    this.collect().catch(() => undefined);
  }

  /**
   * Deletes every orphan nobody retains. Not `{ sync }`: should the batch be lost in a crash, the marks
   * are still there and the next open deletes the blobs. It names the blobs it may delete, so that it
   * can share a batch with the operations beside it that do not reference them (transaction.ts).
   */
  private collect(): Promise<void> {
    const planned = [...this.orphans];
    return this.queue.run(
      async (txn) => {
        this.collectQueued = false;
        const going = planned.filter((blobId) => this.orphans.has(blobId) && !this.retained.has(blobId));
        // Orphans of operations that went between the queueing and now are the next collection's.
        if (this.orphans.size > going.length) txn.afterCommit(() => this.collectLater(planned));
        // A few are read synchronously (microseconds each, see Blobs.count); many through the thread pool,
        // so 10,000 expunged at once do not hold the event loop.
        const manifests: Array<ChunkedBlob | undefined> =
          going.length <= SYNC_READS
            ? going.map((blobId) => this.sub.blobchunks.getSync(blobId))
            : await this.sub.blobchunks.getMany(going);
        going.forEach((blobId, i) => {
          txn.del(this.sub.blob, blobId);
          const manifest = manifests[i];
          if (manifest !== undefined) {
            txn.del(this.sub.blobchunks, blobId);
            this.chunks.remove(txn, manifest);
          }
          this.indexes.delete(txn, blobId);
          txn.del(this.sub.orphan, blobId);
          txn.afterCommit(() => this.orphans.delete(blobId));
        });
      },
      { durability: 'process', touches: blobTouches(planned) },
    );
  }

  /** Collects again if an orphan that was not planned last time is free to go. */
  private collectLater(planned: readonly string[]): void {
    const seen = new Set(planned);
    for (const blobId of this.orphans) {
      if (!seen.has(blobId) && !this.retained.has(blobId)) return this.scheduleCollect();
    }
  }

  /** Blobs waiting to be deleted (tests, status). */
  get orphanCount(): number {
    return this.orphans.size;
  }
}
