/**
 * Binary search over records in ascending UID order (a mailbox's message list, a session's view of it):
 * UIDs only grow (ARCHITECTURE.md, invariant 3), so every such list is sorted.
 */

/** Position of the first record whose UID is at least `uid` (the length when there is none). */
export function firstAtOrAbove(records: ReadonlyArray<{ uid: number }>, uid: number): number {
  let low = 0;
  let high = records.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (records[middle].uid < uid) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Position of the record with this UID, or -1. */
export function indexOfUid(records: ReadonlyArray<{ uid: number }>, uid: number): number {
  const position = firstAtOrAbove(records, uid);
  return position < records.length && records[position].uid === uid ? position : -1;
}

/** The record with this UID, if any. */
export function findByUid<T extends { uid: number }>(records: readonly T[], uid: number): T | undefined {
  const position = indexOfUid(records, uid);
  return position < 0 ? undefined : records[position];
}
