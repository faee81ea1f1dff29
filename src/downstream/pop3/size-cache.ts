/**
 * The RFC 1939 size of each stored message (see wire.ts pop3Size), remembered by blob id: a blob's bytes
 * never change, so the first login after a start reads each message once and later logins read none.
 */
import { pop3Size } from './wire.js';

/** About 100 bytes per entry: 200,000 messages are ~20 MB. */
const MAX_ENTRIES = 200_000;

export class SizeCache {
  private readonly sizes = new Map<string, number>();

  get(blobId: string): number | undefined {
    return this.sizes.get(blobId);
  }

  /** The size of `raw`, remembered under `blobId`. */
  remember(blobId: string, raw: Buffer): number {
    const size = pop3Size(raw);
    if (this.sizes.size >= MAX_ENTRIES) this.sizes.delete(this.sizes.keys().next().value as string);
    this.sizes.set(blobId, size);
    return size;
  }
}
