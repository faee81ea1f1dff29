/**
 * Where one message goes while RETR brings it: a {@link ResponseSink}.
 *
 * A small message is kept in memory and stored from there, in a group with others (ingest-batcher.ts).
 * A large one (over SPILL_AT) is written to the store as it arrives (Store.spoolBlob, store/blob-chunks.ts),
 * and its bytes are gathered once, into one buffer the size of max_message_size that is allocated but not
 * touched: the pages the message does not fill never become memory. The store's chunk writes take views of
 * that buffer, and the message index is computed from it at the end, so a 100 MiB message costs about its
 * size, once: no copy per chunk, no second copy read back from disk. When the store is behind, `backlog`
 * makes the connection stop reading.
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
  /** The bytes for the store: in memory, or the spooled chunk set (with the bytes, for the index). */
  content: { raw: Buffer; spooled?: undefined } | { spooled: SpooledBlob; bytes: Buffer; raw?: undefined };
}

/**
 * Lets one large message at a time be gathered in memory: with PIPELINING the next message streams in while
 * the last one is stored, and two 100 MiB messages must not both be held. A second one waits (its connection
 * stops reading) until the first is stored or dropped.
 */
export class LargeMessageGate {
  private held: Promise<void> | undefined;
  private open: (() => void) | undefined;

  /** While taken: settles when given back. */
  get taken(): Promise<void> | undefined {
    return this.held;
  }

  take(): boolean {
    if (this.held) return false;
    this.held = new Promise<void>((resolve) => (this.open = resolve));
    return true;
  }

  give(): void {
    const open = this.open;
    this.held = undefined;
    this.open = undefined;
    open?.();
  }
}

/** How a large message's spool gets the store and its room. */
export interface SpillTarget {
  /** Opens the store's spool. */
  spool(): BlobSpool;
  /** The most a message may hold (max_message_size): the size of the buffer a large message is gathered in. */
  limit: number;
  gate: LargeMessageGate;
}

export class MessageSpool implements ResponseSink {
  private parts: Buffer[] = [];
  private bytes = 0;
  private head: Buffer | undefined;
  private disk: BlobSpool | undefined;
  /** A large message's bytes, gathered in place (see the top of this file). */
  private gathered: Buffer | undefined;
  private finished: SpooledBlob | undefined;

  constructor(
    private readonly target: SpillTarget,
    private readonly spillAt = SPILL_AT,
  ) {}

  write(parts: readonly Buffer[], bytes: number): void {
    if (this.gathered && this.disk) {
      this.gather(parts, bytes);
      return;
    }
    this.parts.push(Buffer.concat(parts, bytes));
    this.bytes += bytes;
    if (this.bytes > this.spillAt && this.target.gate.take()) this.spill();
  }

  backlog(): Promise<void> | undefined {
    // Large, and another large message holds the gate: wait for it before reading on.
    if (!this.disk && this.bytes > this.spillAt) return this.target.gate.taken;
    return this.disk?.backlog();
  }

  /** The message was stored (or dropped): another large one may be gathered now. */
  release(): void {
    this.gathered = undefined;
    if (this.disk) this.target.gate.give();
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
    if (this.disk && this.gathered) {
      const spooled = (this.finished ??= await this.disk.finish());
      const bytes = this.gathered.subarray(0, this.bytes);
      return { size: this.bytes, head: this.head ?? bytes.subarray(0, HEAD_BYTES), blobId: () => spooled.id, content: { spooled, bytes } };
    }
    const raw = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    let hashed: string | undefined;
    return {
      size: this.bytes,
      head: raw.subarray(0, HEAD_BYTES),
      blobId: () => (hashed ??= createHash('sha256').update(raw).digest('hex')),
      content: { raw },
    };
  }

  /** Drops what arrived (the message is not to be stored): from memory, and from disk. */
  async discard(): Promise<void> {
    this.parts = [];
    const disk = this.disk;
    this.release();
    this.disk = undefined;
    await disk?.discard();
  }

  /** The message turned out large: from now on it is gathered in place and written to disk as it comes. */
  private spill(): void {
    // More than the limit cannot arrive (the reader cuts the answer there), so this never overflows.
    this.gathered = Buffer.allocUnsafe(Math.max(this.target.limit, this.bytes));
    this.disk = this.target.spool();
    const sofar = this.parts;
    const sofarBytes = this.bytes;
    this.parts = [];
    this.bytes = 0;
    this.gather(sofar, sofarBytes);
  }

  private gather(parts: readonly Buffer[], bytes: number): void {
    const gathered = this.gathered!;
    const start = this.bytes;
    let at = start;
    for (const part of parts) at += part.copy(gathered, at);
    this.bytes = at;
    if (this.head === undefined && at >= HEAD_BYTES) this.head = Buffer.from(gathered.subarray(0, HEAD_BYTES));
    // A view: the spool keeps it until written, and these bytes of `gathered` never change.
    this.disk!.write(gathered.subarray(start, start + bytes));
  }
}

/** The ingest item for a complete message. */
export function ingestItem(uidl: string, message: CompleteMessage): IngestItem {
  return message.content.spooled
    ? { uidl, spooled: message.content.spooled, bytes: message.content.bytes }
    : { uidl, raw: message.content.raw };
}
