/**
 * The message index of each blob (envelope, body structure, header fields, decoded text for SEARCH),
 * computed once from the raw bytes (src/mime) and kept as two entries: the structure and headers, and the
 * body text apart. A small in-memory cache of the first serves FETCH ENVELOPE and header SEARCH; an index
 * made by an older indexer is recomputed on first read.
 */
import { indexMessage, MESSAGE_INDEX_VERSION, type MessageIndex } from '../mime/index.js';
import type { Sublevels, StoredIndex } from './database.js';
import type { Transaction, WriteQueue } from './transaction.js';

/**
 * How many parsed indexes (without body text, a few KB each) stay in memory: enough for the working set of
 * a busy mailbox's FETCH ENVELOPE and header SEARCH, small next to the RSS budget.
 */
const INDEX_CACHE_ENTRIES = 4096;

export class MessageIndexes {
  /** Parsed indexes without body text, least recently used first (see read). */
  private readonly cache = new Map<string, MessageIndex>();

  constructor(
    private readonly sub: Pick<Sublevels, 'index' | 'indexText'>,
    private readonly queue: WriteQueue,
    /** The raw bytes of a blob (whole or chunked), undefined when it is gone. */
    private readonly rawOf: (blobId: string) => Promise<Buffer | undefined>,
  ) {}

  /** Adds the index of a new blob to a transaction. */
  put(txn: Transaction, blobId: string, index: MessageIndex): void {
    txn.put(this.sub.index, blobId, { v: MESSAGE_INDEX_VERSION, index: { ...index, text: '' } } satisfies StoredIndex);
    txn.put(this.sub.indexText, blobId, index.text);
  }

  /** Caches the index of a blob just stored, as `read` would have after reading it. */
  remember(blobId: string, index: MessageIndex): void {
    this.cache.delete(blobId);
    this.cache.set(blobId, index.text ? { ...index, text: '' } : index);
    if (this.cache.size > INDEX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** Whether a blob has an index (a blob only the outbox held has none). */
  has(blobId: string): Promise<boolean> {
    return this.sub.index.has(blobId);
  }

  /** Removes the index of a blob that goes, in its transaction. */
  delete(txn: Transaction, blobId: string): void {
    txn.del(this.sub.index, blobId);
    txn.del(this.sub.indexText, blobId);
    txn.afterCommit(() => this.cache.delete(blobId));
  }

  /**
   * The parsed indexes of many messages in one read (undefined where a blob is gone). Without
   * `text: true` the body text is left out (`text` is empty): ENVELOPE, BODYSTRUCTURE and header searches
   * never need it, and it is most of the bytes.
   */
  async read(blobIds: readonly string[], options: { text?: boolean } = {}): Promise<Array<MessageIndex | undefined>> {
    const result: Array<MessageIndex | undefined> = new Array(blobIds.length);
    const missing: number[] = [];
    blobIds.forEach((blobId, i) => {
      const cached = this.cache.get(blobId);
      if (cached) {
        // Most recently used last: Map keeps insertion order.
        this.cache.delete(blobId);
        this.cache.set(blobId, cached);
        result[i] = cached;
      } else missing.push(i);
    });
    if (missing.length > 0) {
      const stored = await this.readStored(missing.map((i) => blobIds[i]));
      for (let k = 0; k < missing.length; k++) {
        const i = missing[k];
        let entry = stored[k];
        if (!entry || entry.v !== MESSAGE_INDEX_VERSION || entry.index.text) {
          const repaired = await this.repair(blobIds[i], entry);
          if (!repaired) continue;
          entry = repaired;
        }
        const index = entry.index.text ? { ...entry.index, text: '' } : entry.index;
        result[i] = index;
        this.remember(blobIds[i], index);
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
   * Stored indexes, one read for all; when that read fails (a damaged block of the table), one read each,
   * and an index that cannot be read is treated as missing: it is recomputed from the blob (repair), so a
   * damaged index entry costs one parse and not the whole FETCH.
   */
  private async readStored(blobIds: string[]): Promise<Array<StoredIndex | undefined>> {
    try {
      return await this.sub.index.getMany(blobIds);
    } catch {
      return Promise.all(blobIds.map((blobId) => this.sub.index.get(blobId).catch(() => undefined)));
    }
  }

  /**
   * Rewrites an index made by an older indexer (or stored before the body text moved to its own entry,
   * or never made). Through the write queue, so it cannot race with the blob's deletion; not `{ sync }`:
   * it can always be recomputed. Undefined when the blob is gone.
   */
  private repair(blobId: string, stored: StoredIndex | undefined): Promise<StoredIndex | undefined> {
    return this.queue.run(
      async (txn) => {
        // Checked against its hash (blobs.ts find): a damaged blob is never indexed as if it were the message.
        const raw = await this.rawOf(blobId);
        if (raw === undefined) return undefined;
        const index = stored && stored.v === MESSAGE_INDEX_VERSION ? stored.index : indexMessage(raw);
        this.put(txn, blobId, index);
        return { v: MESSAGE_INDEX_VERSION, index: { ...index, text: '' } };
      },
      { durability: 'process' },
    );
  }
}
