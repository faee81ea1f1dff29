/**
 * Where one message goes while RETR brings it: a {@link ResponseSink} that keeps the pieces (each up to
 * STREAM_CHUNK bytes, see reader.ts). The message is joined once, when it is complete and checked; its content
 * hash (the store's blob id, the identity a renamed message is recognised by) is computed only when asked.
 */
import { createHash } from 'node:crypto';
import type { ResponseSink } from './connection.js';

export class MessageSpool implements ResponseSink {
  private parts: Buffer[] = [];
  private bytes = 0;
  private hashed: string | undefined;

  write(chunk: Buffer): void {
    this.parts.push(chunk);
    this.bytes += chunk.length;
    this.hashed = undefined;
  }

  backlog(): undefined {
    return undefined;
  }

  /** Octets received so far. */
  get size(): number {
    return this.bytes;
  }

  /** The content hash (SHA-256, hex: the store's blob id) of what arrived. */
  blobId(): string {
    if (this.hashed === undefined) {
      const hash = createHash('sha256');
      for (const part of this.parts) hash.update(part);
      this.hashed = hash.digest('hex');
    }
    return this.hashed;
  }

  /** The whole message, joined once; the spool is empty afterwards. */
  take(): Buffer {
    const raw = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    return raw;
  }

  /** Drops what arrived (the message is not to be stored). */
  discard(): void {
    this.parts = [];
  }
}
