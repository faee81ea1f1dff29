/**
 * Where one message goes while RETR brings it: a {@link ResponseSink} that keeps a small message in memory
 * (the pieces, each up to STREAM_CHUNK bytes, see reader.ts) and writes a large one to the store as it
 * arrives (Store.spoolBlob, store/blob-chunks.ts), so that a 100 MiB message is never in memory as a whole
 * while it downloads. When the store is behind, `backlog` makes the connection stop reading.
 *
 * Nothing here makes a message part of the mailbox: the poller checks the complete message first and then
 * ingests it (the spooled chunks become a blob in that one durable batch), or discards it.
 */
import { createHash } from 'node:crypto';
import type { BlobSpool, IngestItem, SpooledBlob } from '../../store/index.js';
import type { ResponseSink } from './connection.js';

/** A message larger than this goes to disk as it arrives; smaller ones are stored from memory in groups. */
export const SPILL_AT = 4 * 1024 * 1024;

/** The start of a message kept aside (the header, for its arrival date), whichever way it is stored. */
const HEAD_BYTES = 64 * 1024;

/** A message that came in whole, ready to be checked and stored. */
export interface CompleteMessage {
  size: number;
  /** The first bytes (up to 64 KiB: the header of any ordinary message). */
  head: Buffer;
  /** Its content hash (SHA-256 hex: the store's blob id), computed when first asked for a small one. */
  blobId(): string;
  /** The bytes for the store: in memory, or the spooled chunk set. */
  content: { raw: Buffer; spooled?: undefined } | { spooled: SpooledBlob; raw?: undefined };
}

export class MessageSpool implements ResponseSink {
  private parts: Buffer[] = [];
  private bytes = 0;
  private headParts: Buffer[] = [];
  private headBytes = 0;
  private disk: BlobSpool | undefined;
  private finished: SpooledBlob | undefined;

  /** `spool` opens the store's spool when the message turns out large. */
  constructor(
    private readonly spool: () => BlobSpool,
    private readonly spillAt = SPILL_AT,
  ) {}

  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.headBytes < HEAD_BYTES) {
      const piece = chunk.subarray(0, HEAD_BYTES - this.headBytes);
      this.headParts.push(Buffer.from(piece));
      this.headBytes += piece.length;
    }
    if (this.disk) {
      this.disk.write(chunk);
      return;
    }
    this.parts.push(chunk);
    if (this.bytes > this.spillAt) {
      this.disk = this.spool();
      for (const part of this.parts) this.disk.write(part);
      this.parts = [];
    }
  }

  backlog(): Promise<void> | undefined {
    return this.disk?.backlog();
  }

  /** Octets received so far. */
  get size(): number {
    return this.bytes;
  }

  /** Whether the message went to disk. */
  get spilled(): boolean {
    return this.disk !== undefined;
  }

  /** The whole message, once it ended (waits for its last chunks to be on disk). */
  async complete(): Promise<CompleteMessage> {
    const head = Buffer.concat(this.headParts, this.headBytes);
    if (this.disk) {
      const spooled = (this.finished ??= await this.disk.finish());
      return { size: this.bytes, head, blobId: () => spooled.id, content: { spooled } };
    }
    const raw = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    let hashed: string | undefined;
    return { size: this.bytes, head, blobId: () => (hashed ??= createHash('sha256').update(raw).digest('hex')), content: { raw } };
  }

  /** Drops what arrived (the message is not to be stored): from memory, and from disk. */
  async discard(): Promise<void> {
    this.parts = [];
    const disk = this.disk;
    this.disk = undefined;
    await disk?.discard();
  }
}

/** The ingest item for a complete message. */
export function ingestItem(uidl: string, message: CompleteMessage): IngestItem {
  return message.content.spooled ? { uidl, spooled: message.content.spooled } : { uidl, raw: message.content.raw };
}
