/**
 * The bytes of recently fetched messages, shared by every session of the server. Clients read the same
 * message several times in a row (BODYSTRUCTURE, then each part; the header, then the body), and every
 * session of a mailbox reads what arrived in it, while each LevelDB read of a blob costs a copy and a
 * trip through the thread pool. Blobs are named by their content hash, so a cached blob never goes stale.
 *
 * Bounded by bytes, least recently used first out; messages larger than a quarter of the bound are not
 * kept (one attachment-laden message must not push out everything else). Concurrent reads of a blob not
 * in the cache share one store read.
 */

/** Reads a blob from the store (Store.getBlob). */
export type BlobLoader = (blobId: string) => Promise<Buffer>;

/** Default bound of the cache: small next to the daemon's RSS, larger than a busy mailbox's working set. */
export const BLOB_CACHE_BYTES = 4 * 1024 * 1024;

export class BlobCache {
  /** Least recently used first (a Map keeps insertion order). */
  private readonly entries = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private bytes = 0;

  constructor(
    private readonly load: BlobLoader,
    private readonly maxBytes = BLOB_CACHE_BYTES,
  ) {}

  /** The blob if it is cached (and marks it recently used); no store read. */
  peek(blobId: string): Buffer | undefined {
    const hit = this.entries.get(blobId);
    if (hit) {
      this.entries.delete(blobId);
      this.entries.set(blobId, hit);
    }
    return hit;
  }

  /** The blob's bytes, from the cache or from the store (which throws `not-found` for a blob that is gone). */
  get(blobId: string): Buffer | Promise<Buffer> {
    return this.peek(blobId) ?? this.fetch(blobId);
  }

  private fetch(blobId: string): Promise<Buffer> {
    const pending = this.loading.get(blobId);
    if (pending) return pending;
    const read = this.load(blobId).then(
      (raw) => {
        this.loading.delete(blobId);
        this.keep(blobId, raw);
        return raw;
      },
      (err: unknown) => {
        this.loading.delete(blobId);
        throw err;
      },
    );
    this.loading.set(blobId, read);
    return read;
  }

  /** Keeps bytes the server already holds (an APPENDed message), as if they had just been read. */
  remember(blobId: string, raw: Buffer): void {
    this.keep(blobId, raw);
  }

  private keep(blobId: string, raw: Buffer): void {
    if (raw.length > this.maxBytes / 4 || this.entries.has(blobId)) return;
    this.entries.set(blobId, raw);
    this.bytes += raw.length;
    for (const [oldest, bytes] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= bytes.length;
    }
  }

  /** Bytes held now (for tests and the status figures). */
  get size(): number {
    return this.bytes;
  }
}
