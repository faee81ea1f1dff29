/**
 * What one POP3 session's scan listings say (RFC 1939 §5 LIST, §7 UIDL), put together: each message's number,
 * unique id and size, and the two ways a server breaks the UIDL rules — one id for several messages ("unique
 * within a maildrop", §7), or a message LIST shows and UIDL does not name. Such messages cannot be fetched
 * safely (nothing would tell us next time that we already hold them), so they are counted to be reported.
 */
import type { ListedMessage } from './deletion-policy.js';

export interface ServerListing {
  /** The UIDL listing in server order; a repeated UIDL appears as often as the server lists it. */
  messages: ListedMessage[];
  /** LIST sizes by message number (octets, as the server counts them). */
  sizes: ReadonlyMap<number, number>;
  /** UIDLs the server gives to more than one message. */
  duplicateUidls: ReadonlySet<string>;
  /** Messages beyond the first under a duplicate UIDL (never fetched). */
  duplicateCount: number;
  /** Messages LIST shows that the UIDL listing leaves out (never fetched). */
  withoutUidl: Array<{ msg: number; size: number }>;
}

export function readListing(
  uidl: ReadonlyArray<{ msg: number; uidl: string }>,
  list: ReadonlyArray<{ msg: number; size: number }>,
): ServerListing {
  const sizes = new Map(list.map((entry) => [entry.msg, entry.size]));
  const seen = new Set<string>();
  const duplicateUidls = new Set<string>();
  let duplicateCount = 0;
  const named = new Set<number>();
  for (const entry of uidl) {
    named.add(entry.msg);
    if (seen.has(entry.uidl)) {
      duplicateUidls.add(entry.uidl);
      duplicateCount++;
    }
    seen.add(entry.uidl);
  }
  const withoutUidl = list.filter((entry) => !named.has(entry.msg));
  return { messages: uidl.map(({ msg, uidl: id }) => ({ msg, uidl: id })), sizes, duplicateUidls, duplicateCount, withoutUidl };
}

/** Listed messages that `isKnown` does not claim, in listing order; a repeated UIDL only once (its first). */
export function unknownMessages(listing: ServerListing, isKnown: (uidl: string) => boolean): ListedMessage[] {
  const seen = new Set<string>();
  const fresh: ListedMessage[] = [];
  for (const entry of listing.messages) {
    if (seen.has(entry.uidl)) continue;
    seen.add(entry.uidl);
    if (!isKnown(entry.uidl)) fresh.push(entry);
  }
  return fresh;
}
