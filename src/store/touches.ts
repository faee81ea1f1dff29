/**
 * The keys an operation names for sharing a batch (`touches`, transaction.ts): the in-memory state its
 * build reads and changes that the parts do not already keep per transaction. Two operations that name a
 * key in common never share a batch, so the second one's build sees the first one's change.
 */

/** Above this many keys an operation has a batch of its own: naming them would cost more than sharing saves. */
const MAX_SHARED_KEYS = 64;

/** A flag change or an expunge: its messages in the mailbox's list. */
export function messageTouches(mailboxId: number, uids: readonly number[]): string[] | undefined {
  return uids.length > MAX_SHARED_KEYS ? undefined : uids.map((uid) => `m${mailboxId}:${uid}`);
}

/**
 * An expunge: its messages, and its mailbox's expunge history, whose trimming reads the written history
 * (expunge-history.ts), so two expunges of one mailbox never share a batch.
 */
export function expungeTouches(mailboxId: number, uids: readonly number[]): string[] | undefined {
  return messageTouches(mailboxId, uids)?.concat(`m${mailboxId}:expunge`);
}

/**
 * Blobs that may be deleted (orphans, blob-retention.ts) or referenced anew (an APPEND): an APPEND of
 * a message whose blob is an orphan revives it, which a deletion in the same batch would not see.
 */
export function blobTouches(blobIds: readonly string[]): string[] | undefined {
  return blobIds.length > MAX_SHARED_KEYS ? undefined : blobIds.map((blobId) => `b${blobId}`);
}
