/**
 * Blobs: each message's raw bytes, exactly as received, named by their content hash and shared by every
 * copy (COPY, a Sent copy of a submission). A reference count says how many messages and outbox entries
 * hold a blob. When the last reference goes, the blob and its index stay until no reader retains them
 * (blob-retention.ts: a session may still show an expunged message), and go in a later batch.
 *
 * Parts add and drop references in a transaction; the counts settle once, just before the batch is
 * written, so a transaction that adds and drops the same blob (MOVE) writes nothing for it. A blob gets
 * its index (message-indexes.ts) once a mailbox refers to it; one only the outbox holds has none.
 */
import { createHash } from 'node:crypto';
import type { MessageIndex } from '../mime/index.js';
import type { Sublevels } from './database.js';
import { StoreError } from './errors.js';
import type { BlobRetention } from './blob-retention.js';
import type { MessageIndexes } from './message-indexes.js';
import type { Transaction } from './transaction.js';

/** A message's bytes as the store needs them to add a reference: raw only when the blob may be new. */
export interface BlobRef {
  id: string;
  size: number;
  raw?: Buffer;
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
  index?: MessageIndex;
}

/** The content hash that names a blob. */
export function blobIdOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

export class Blobs {
  /** Reference counts read or written so far (every blob a list in memory refers to, at most). */
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly sub: Pick<Sublevels, 'blob' | 'blobref'>,
    private readonly indexes: MessageIndexes,
    private readonly retention: BlobRetention,
  ) {}

  /** The raw bytes of a blob. */
  async get(blobId: string): Promise<Buffer> {
    // Not through LevelDB's block cache: a message read once would push out the metadata read constantly.
    // (classic-level's `fillCache` option; abstract-level's option type does not name it.)
    const raw = await this.sub.blob.get(blobId, { fillCache: false } as never);
    if (raw === undefined) throw new StoreError('not-found', `blob ${blobId} is missing`);
    return raw;
  }

  /** Adds one reference (a message, an outbox entry); a new blob needs its bytes in `ref.raw`. */
  addRef(txn: Transaction, ref: BlobRef): void {
    const entry = this.pending(txn, ref.id);
    entry.delta += 1;
    if (ref.raw) entry.raw = ref.raw;
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
      entry = { delta: 0 };
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
    for (const [blobId, change] of pending) {
      // A blob only the outbox held can land in a mailbox in the batch that drops the outbox's
      // reference (a Sent copy): its count does not change, but it needs its index now.
      if (change.delta === 0) {
        if (change.index && !(await this.indexes.has(blobId))) this.indexes.put(txn, blobId, change.index);
        continue;
      }
      const before = await this.count(blobId);
      const after = Math.max(0, before + change.delta);
      if (before === 0 && after > 0) {
        if (!change.raw) throw new Error(`blob ${blobId} is referenced but its bytes were not given`);
        txn.put(this.sub.blob, blobId, change.raw);
        if (change.index) this.indexes.put(txn, blobId, change.index);
        this.retention.revived(txn, blobId);
      } else if (after > 0 && change.index && !(await this.indexes.has(blobId))) {
        this.indexes.put(txn, blobId, change.index);
      }
      if (after === 0) {
        // The bytes and the index go later, once no reader retains them.
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
}
