/**
 * Sets of UIDs (or message numbers) as ascending, non-overlapping, inclusive ranges: the form of
 * IMAP sequence sets, of the expunge history (QRESYNC) and of SEARCH's UID and sequence keys.
 */

/** Ascending, non-overlapping, inclusive ranges. */
export type UidRanges = Array<[number, number]>;

/** Sorts and merges ranges that touch or overlap. */
export function mergeRanges(ranges: Iterable<readonly [number, number]>): UidRanges {
  const sorted = [...ranges].map(([low, high]): [number, number] => [low, high]).sort((a, b) => a[0] - b[0]);
  const merged: UidRanges = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
    else merged.push(range);
  }
  return merged;
}

/** Whether `n` lies in one of the (ascending) ranges: a binary search. */
export function inRanges(ranges: ReadonlyArray<readonly [number, number]>, n: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const [from, to] = ranges[middle];
    if (n < from) high = middle - 1;
    else if (n > to) low = middle + 1;
    else return true;
  }
  return false;
}
