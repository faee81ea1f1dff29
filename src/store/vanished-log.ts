/**
 * The expunge history of one mailbox, for QRESYNC (RFC 7162 §3.2.5, §5.3): a queue of
 * <mod-sequence, UID ranges> entries in ascending mod-sequence, one per expunge. It is bounded: once it
 * holds more than a limit of ranges the oldest entries are forgotten and the mailbox's floor rises to
 * the newest forgotten mod-sequence; a question about changes since a mod-sequence below the floor is
 * then answered conservatively by the caller (every known UID that is gone, RFC 7162 §3.2.6 note).
 */

import { mergeRanges, type UidRanges } from './uid-ranges.js';

export type { UidRanges } from './uid-ranges.js';

/** One expunge: its mod-sequence and the UIDs it removed. */
export interface VanishedEntry {
  modseq: number;
  ranges: UidRanges;
}

/** Stored form of an entry's ranges: [low1, high1, low2, high2, ...]. */
export type StoredRanges = number[];

export function flattenRanges(ranges: UidRanges): StoredRanges {
  return ranges.flat();
}

export function unflattenRanges(stored: StoredRanges): UidRanges {
  const ranges: UidRanges = [];
  for (let i = 0; i + 1 < stored.length; i += 2) ranges.push([stored[i], stored[i + 1]]);
  return ranges;
}

/** Ranges of a list of UIDs (any order, duplicates allowed). */
export function rangesOf(uids: readonly number[]): UidRanges {
  const sorted = [...uids].sort((a, b) => a - b);
  const ranges: UidRanges = [];
  for (const uid of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && uid <= last[1] + 1) last[1] = Math.max(last[1], uid);
    else ranges.push([uid, uid]);
  }
  return ranges;
}

/** The in-memory expunge history of one mailbox. */
export class VanishedLog {
  private entries: VanishedEntry[];
  private ranges: number;

  /** `entries` in ascending mod-sequence (the order of their keys). */
  constructor(entries: VanishedEntry[]) {
    this.entries = entries;
    this.ranges = entries.reduce((sum, entry) => sum + entry.ranges.length, 0);
  }

  /** How many UID ranges the history holds (its size, which the limit bounds). */
  get rangeCount(): number {
    return this.ranges;
  }

  /**
   * What to forget before adding an entry of `incoming` ranges so that the history stays within
   * `limit`: the oldest entries, down to three quarters of the limit so that trimming is rare. When the
   * new entry alone is over the limit, everything goes, the new entry included (`dropNew`).
   */
  plan(incoming: number, limit: number): { forget: VanishedEntry[]; dropNew: boolean } {
    if (incoming > limit) return { forget: [...this.entries], dropNew: true };
    if (this.ranges + incoming <= limit) return { forget: [], dropNew: false };
    const target = Math.floor((limit * 3) / 4);
    const forget: VanishedEntry[] = [];
    let left = this.ranges + incoming;
    for (const entry of this.entries) {
      if (left <= target) break;
      forget.push(entry);
      left -= entry.ranges.length;
    }
    return { forget, dropNew: false };
  }

  add(entry: VanishedEntry): void {
    this.entries.push(entry);
    this.ranges += entry.ranges.length;
  }

  /** Forgets every entry at or below `modseq` (idempotent). */
  forgetUpTo(modseq: number): void {
    // Called after every expunge; the entries ascend, so usually the first one says there is nothing to do.
    if (this.entries.length === 0 || this.entries[0].modseq > modseq) return;
    const kept = this.entries.filter((entry) => entry.modseq > modseq);
    if (kept.length === this.entries.length) return;
    this.entries = kept;
    this.ranges = kept.reduce((sum, entry) => sum + entry.ranges.length, 0);
  }

  /** The UIDs expunged with a mod-sequence above `modseq`, merged. */
  since(modseq: number): UidRanges {
    const found: Array<[number, number]> = [];
    for (let i = this.entries.length - 1; i >= 0 && this.entries[i].modseq > modseq; i--) found.push(...this.entries[i].ranges);
    return mergeRanges(found);
  }
}
