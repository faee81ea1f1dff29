/**
 * Recognises messages the server renamed. RFC 1939 §7 wants a UIDL to stay the same "across sessions", but a
 * provider that migrates or rebuilds a mailbox hands out new ones, and a poller that trusts UIDLs alone then
 * downloads the whole mailbox again. So a UIDL we do not know, while UIDLs we fetched and never deleted have
 * disappeared from the listing, may be one of those: the same Message-ID and size (asked with TOP n 0, header
 * only), or failing that the same content hash once downloaded, says it is, and the ledger entry is renamed
 * instead of a copy being stored.
 */
import { readHeaderFields, unfold } from '../../mime/raw-header.js';
import type { ListedMessage } from './deletion-policy.js';

/** A message we fetched whose UIDL the server no longer lists (and that we did not delete). */
export interface VanishedMessage {
  uidl: string;
  /** Content hash of the stored bytes (the store's blob id). */
  blobId: string;
  size?: number;
  messageId?: string;
}

export class RenamedMessages {
  private readonly pool = new Set<VanishedMessage>();

  constructor(vanished: Iterable<VanishedMessage>) {
    for (const message of vanished) this.pool.add(message);
  }

  /** Whether any vanished message is left to match. */
  get empty(): boolean {
    return this.pool.size === 0;
  }

  /** Fresh messages worth a TOP: a vanished message of the same size has a Message-ID to compare with. */
  worthHeader(fresh: readonly ListedMessage[], sizes: ReadonlyMap<number, number>): ListedMessage[] {
    const sized = new Set<number>();
    for (const message of this.pool) if (message.size !== undefined && message.messageId !== undefined) sized.add(message.size);
    return fresh.filter((entry) => {
      const size = sizes.get(entry.msg);
      return size !== undefined && sized.has(size);
    });
  }

  /** The vanished message with this size and the Message-ID in `header`, taken out of the pool. */
  matchHeader(size: number | undefined, header: Buffer): VanishedMessage | undefined {
    const messageId = messageIdOf(header);
    if (messageId === undefined || size === undefined) return undefined;
    return this.take((message) => message.size === size && message.messageId === messageId);
  }

  /** The vanished message whose stored bytes hash to `blobId`, taken out of the pool. */
  matchContent(blobId: string): VanishedMessage | undefined {
    return this.take((message) => message.blobId === blobId);
  }

  private take(test: (message: VanishedMessage) => boolean): VanishedMessage | undefined {
    for (const message of this.pool) {
      if (!test(message)) continue;
      this.pool.delete(message);
      return message;
    }
    return undefined;
  }
}

/** The Message-ID field of a header block as the message index keeps it (the last one, unfolded, trimmed). */
export function messageIdOf(header: Buffer): string | undefined {
  const fields = readHeaderFields(header, 0, header.length).filter((field) => field.key === 'message-id');
  const last = fields.at(-1);
  if (last === undefined) return undefined;
  const value = unfold(last.value);
  return value.length > 0 ? value : undefined;
}
