/**
 * Large blobs, stored as chunks while they arrive, so that a 100 MiB message never has to be in memory (and
 * in one LevelDB batch, and in its memtable) as a whole.
 *
 * A {@link BlobSpool} writes a message's bytes as they come into a new chunk set: keys `<set>!<n>` of about
 * BLOB_CHUNK_BYTES each, plus a marker `<set>` saying the set is not yet part of any blob. The message is
 * committed later, in ONE `{ sync: true }` batch with its message record and UIDL mark (invariant 1): the
 * batch writes the blob's manifest (blob id -> set, chunk count, size) and removes the marker. A set whose
 * marker is still there at open — the process died while writing it, or before its commit — is deleted.
 *
 * Chunk batches are durable (`sync`) too, not just the final one: LevelDB switches to a new log file when its
 * memtable fills, closing the old one without an fsync (db_impl.cc, MakeRoomForWrite), so after a power cut
 * a synced commit in the new log could survive while unsynced chunks of the old one do not. Chunks are
 * written one batch at a time, each taking every chunk that arrived meanwhile (group commit), so a fast
 * download pays few fsyncs.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { chunkKey, chunkRange, readChunks } from './blob-read.js';
import type { ChunkedBlob, Sublevels } from './database.js';
import type { Transaction, WriteQueue } from './transaction.js';

/**
 * About how much of a blob one chunk holds: a 100 MiB message is about a hundred keys. (Smaller chunks were
 * measured: no less memory, and slower, as every durable batch costs an fsync.)
 */
export const BLOB_CHUNK_BYTES = 1024 * 1024;

/** How much a spool holds in memory, waiting to be written, before its writer is asked to wait. */
const SPOOL_BACKLOG_BYTES = 4 * 1024 * 1024;

export type { ChunkedBlob } from './database.js';

/** A complete spool, ready to be committed as the blob `id` (its content hash). */
export interface SpooledBlob extends ChunkedBlob {
  id: string;
}

type ChunkSublevels = Pick<Sublevels, 'chunk' | 'chunkset'>;

export class BlobChunks {
  constructor(
    private readonly sub: ChunkSublevels,
    private readonly queue: WriteQueue,
  ) {}

  /** Starts a new chunk set for a blob that is about to arrive. */
  spool(): BlobSpool {
    return new BlobSpool(this.sub, this.queue, randomBytes(12).toString('hex'));
  }

  /** The bytes of a chunked blob, joined once into a Buffer of its size. */
  read(manifest: ChunkedBlob): Promise<Buffer> {
    return readChunks(this.sub, manifest);
  }

  /** Makes a spooled set part of a blob (its manifest is written by the caller in the same transaction). */
  commit(txn: Transaction, set: string): void {
    txn.del(this.sub.chunkset, set);
  }

  /** Deletes a chunk set (a blob that goes, or a spool that was not needed), in a transaction. */
  remove(txn: Transaction, manifest: Pick<ChunkedBlob, 'set' | 'chunks'>): void {
    for (let n = 0; n < manifest.chunks; n++) txn.del(this.sub.chunk, chunkKey(manifest.set, n));
    txn.del(this.sub.chunkset, manifest.set);
  }

  /** Deletes every chunk set that is still marked as in progress (a crash left it); returns how many. */
  async removeAbandoned(): Promise<number> {
    const sets: string[] = [];
    for await (const set of this.sub.chunkset.keys()) sets.push(set);
    for (const set of sets) {
      await this.queue.run(async (txn) => {
        for await (const key of this.sub.chunk.keys(chunkRange(set))) txn.del(this.sub.chunk, key);
        txn.del(this.sub.chunkset, set);
      });
    }
    return sets.length;
  }

  /** Chunk sets in progress and chunks on disk (for tests and doctor). */
  async stats(): Promise<{ spools: number; chunks: number; sets: Set<string> }> {
    let spools = 0;
    for await (const _ of this.sub.chunkset.keys()) spools++;
    let chunks = 0;
    const sets = new Set<string>();
    for await (const key of this.sub.chunk.keys()) {
      chunks++;
      sets.add(key.slice(0, key.indexOf('!')));
    }
    return { spools, chunks, sets };
  }
}

/**
 * One blob being written as it arrives. `write` never waits: it queues the bytes; `backlog` says when the
 * writer should pause (the disk is behind), `finish` waits for everything and names the blob, `discard`
 * deletes what was written.
 */
export class BlobSpool {
  private readonly hash: Hash = createHash('sha256');
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private written = 0;
  private bytes = 0;
  private writing: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  private done = false;

  constructor(
    private readonly sub: ChunkSublevels,
    private readonly queue: WriteQueue,
    readonly set: string,
  ) {}

  /** Octets written so far (queued included). */
  get size(): number {
    return this.bytes;
  }

  write(chunk: Buffer): void {
    if (this.done) throw new Error('write after finish or discard');
    if (chunk.length === 0) return;
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.waiting.push(chunk);
    this.waitingBytes += chunk.length;
    this.writing ??= this.writeLoop();
  }

  /** A promise while more than SPOOL_BACKLOG_BYTES wait to be written (settles, never rejects, when written). */
  backlog(): Promise<void> | undefined {
    if (this.waitingBytes <= SPOOL_BACKLOG_BYTES || this.writing === undefined) return undefined;
    return this.writing;
  }

  /** Waits until every byte is on disk; the blob's name and where its chunks are. */
  async finish(): Promise<SpooledBlob> {
    this.done = true;
    await this.writing;
    if (this.failure) throw this.failure.error;
    return { id: this.hash.digest('hex'), set: this.set, chunks: this.written, size: this.bytes };
  }

  /** Deletes whatever was written of this blob (it is not to be stored). */
  async discard(): Promise<void> {
    this.done = true;
    this.waiting = [];
    this.waitingBytes = 0;
    await this.writing;
    const chunks = this.written;
    if (chunks === 0 && this.failure === undefined) return;
    await this.queue.run((txn) => {
      for (let n = 0; n < chunks; n++) txn.del(this.sub.chunk, chunkKey(this.set, n));
      txn.del(this.sub.chunkset, this.set);
    });
  }

  /** Writes what waits, one durable batch at a time, until nothing does. Never rejects. */
  private async writeLoop(): Promise<void> {
    try {
      while (this.waiting.length > 0 && this.failure === undefined) {
        const pieces = this.waiting;
        this.waiting = [];
        this.waitingBytes = 0;
        const chunks = cut(pieces);
        const first = this.written;
        await this.queue.run((txn) => {
          if (first === 0) txn.put(this.sub.chunkset, this.set, { startedAt: Date.now() });
          chunks.forEach((chunk, i) => txn.put(this.sub.chunk, chunkKey(this.set, first + i), chunk));
        });
        this.written += chunks.length;
      }
    } catch (error) {
      this.failure ??= { error };
    } finally {
      this.writing = undefined;
    }
  }
}

/** The pieces as chunks of about BLOB_CHUNK_BYTES: small pieces joined, a large one cut into views. */
function cut(pieces: Buffer[]): Buffer[] {
  const chunks: Buffer[] = [];
  let group: Buffer[] = [];
  let groupBytes = 0;
  for (const whole of pieces) {
    for (let at = 0; at < whole.length; at += BLOB_CHUNK_BYTES) {
      const piece = at === 0 && whole.length <= BLOB_CHUNK_BYTES ? whole : whole.subarray(at, at + BLOB_CHUNK_BYTES);
      group.push(piece);
      groupBytes += piece.length;
      if (groupBytes >= BLOB_CHUNK_BYTES) {
        chunks.push(group.length === 1 ? group[0] : Buffer.concat(group, groupBytes));
        group = [];
        groupBytes = 0;
      }
    }
  }
  if (groupBytes > 0) chunks.push(group.length === 1 ? group[0] : Buffer.concat(group, groupBytes));
  return chunks;
}
