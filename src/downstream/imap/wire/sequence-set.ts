/**
 * Sequence sets (RFC 3501 §9 `sequence-set`): "1:4,7,9:*". Used both for message sequence numbers and
 * for UIDs; "*" means the largest number in use, and a range may be written either way round.
 */

/** Stands for "*" in a parsed set (0 is never a valid number). */
export const STAR = 0;

/** Ranges as written: [from, to], either of which may be STAR. */
export type SequenceSet = ReadonlyArray<readonly [number, number]>;

const MAX_NUMBER = 0xffffffff;

/** Parses a sequence set; undefined when it is not one. */
export function parseSequenceSet(text: string): SequenceSet | undefined {
  if (text.length === 0) return undefined;
  const ranges: Array<[number, number]> = [];
  for (const part of text.split(',')) {
    const bounds = part.split(':');
    if (bounds.length > 2) return undefined;
    const numbers = bounds.map(parseSeqNumber);
    if (numbers.some((n) => n === undefined)) return undefined;
    ranges.push([numbers[0]!, numbers[numbers.length - 1]!]);
  }
  return ranges;
}

function parseSeqNumber(text: string): number | undefined {
  if (text === '*') return STAR;
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_NUMBER ? n : undefined;
}

/**
 * The set as sorted, merged, inclusive [low, high] ranges, with "*" replaced by `largest`. "559:*"
 * with a largest UID of 500 is [500, 559]: it still includes the last message (RFC 3501 §6.4.8).
 */
export function resolveSequenceSet(set: SequenceSet, largest: number): Array<[number, number]> {
  const ranges = set
    .map(([from, to]): [number, number] => {
      const a = from === STAR ? largest : from;
      const b = to === STAR ? largest : to;
      return a <= b ? [a, b] : [b, a];
    })
    .sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}

/** The largest number the set names explicitly (STAR excluded); 0 when only "*" is used. */
export function largestExplicit(set: SequenceSet): number {
  let max = 0;
  for (const [from, to] of set) max = Math.max(max, from, to);
  return max;
}

/** Writes ascending numbers compactly ("1:3,7,9:10"), as COPYUID and SEARCH-like answers want them. */
export function formatSequenceSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    parts.push(j === i ? String(numbers[i]) : `${numbers[i]}:${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
