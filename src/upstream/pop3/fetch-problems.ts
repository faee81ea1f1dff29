/**
 * Messages on the server that a poll did not bring in, and why, so that `hotbridge status` can say so instead
 * of "idle": too large for max_message_size; cut short by the server (a lone "." not dot-stuffed, RFC 1939 §3),
 * retried at the next polls up to a limit; under a UIDL the server gives to several messages, or under none
 * (RFC 1939 §7); and UIDL changes recognised by content. Kept in memory: a restart tries everything once more.
 */
import type { ServerListing } from './server-listing.js';
import { megabytes } from '../../runtime/sizes.js';

/** Polls that try a message the server keeps cutting short before it is left alone. */
export const MAX_CUT_SHORT_ATTEMPTS = 3;

/** A too-large message we leave on the server. */
interface TooLarge {
  /** Its size: from LIST, or (`atLeast`) what we read before cutting the download at the limit. */
  size: number;
  atLeast: boolean;
  /** What LIST said, when the download showed it wrong. */
  listSize?: number;
  at: number;
}

export type CutShortReason = 'not-dot-stuffed' | 'shorter-than-list';

interface CutShort {
  reason: CutShortReason;
  attempts: number;
  /** The poll of the last attempt (one attempt per poll). */
  lastPoll: number;
  listSize?: number;
  received?: number;
  /** Content hash of what a size-only suspicion received, to see whether the next attempt brings the same. */
  lastBlobId?: string;
  at: number;
}

export interface ProblemReport {
  skippedTooLarge: Array<{ uidl: string; size: number; atLeast: boolean; listSize?: number; at: string }>;
  cutShort: Array<{
    uidl: string;
    reason: CutShortReason;
    attempts: number;
    maxAttempts: number;
    givenUp: boolean;
    listSize?: number;
    received?: number;
  }>;
  duplicateUidls: number;
  withoutUidl: number;
  uidlChanges?: { at: string; recognised: number };
  /** One plain sentence per kind of problem, for the text status. */
  notices: string[];
}

export class FetchProblems {
  private readonly tooLarge = new Map<string, TooLarge>();
  private readonly cutShort = new Map<string, CutShort>();
  private duplicates = 0;
  private missingUidl = 0;
  private uidlChanges: { at: number; recognised: number } | undefined;

  /** Whether poll number `poll` must leave this message alone. */
  excludes(uidl: string, poll: number): boolean {
    if (this.tooLarge.has(uidl)) return true;
    const cut = this.cutShort.get(uidl);
    return cut !== undefined && (cut.lastPoll === poll || (cut.reason === 'not-dot-stuffed' && cut.attempts >= MAX_CUT_SHORT_ATTEMPTS));
  }

  /** Whether an earlier attempt at this message failed (such messages go last, after everything else). */
  failedBefore(uidl: string): boolean {
    return this.cutShort.has(uidl);
  }

  /** The last failed attempt's record for a message, if any. */
  cutShortRecord(uidl: string): Readonly<CutShort> | undefined {
    return this.cutShort.get(uidl);
  }

  noteTooLarge(uidl: string, found: { size: number; atLeast: boolean; listSize?: number }, now: number): boolean {
    if (this.tooLarge.has(uidl)) return false;
    this.tooLarge.set(uidl, { ...found, at: now });
    this.cutShort.delete(uidl);
    return true;
  }

  /** Records a failed attempt; returns how many there were. */
  noteCutShort(
    uidl: string,
    poll: number,
    found: { reason: CutShortReason; listSize?: number; received?: number; blobId?: string },
    now: number,
  ): number {
    const before = this.cutShort.get(uidl);
    const attempts = (before?.attempts ?? 0) + 1;
    const record: CutShort = { reason: found.reason, attempts, lastPoll: poll, at: now };
    if (found.listSize !== undefined) record.listSize = found.listSize;
    if (found.received !== undefined) record.received = found.received;
    if (found.blobId !== undefined) record.lastBlobId = found.blobId;
    this.cutShort.set(uidl, record);
    return attempts;
  }

  /** The message came in whole (or the server no longer has it): nothing to report about it any more. */
  resolved(uidl: string): void {
    this.cutShort.delete(uidl);
  }

  /** Takes this session's listing: counts its UIDL faults and forgets messages the server no longer has. */
  noteListing(listing: ServerListing): void {
    this.duplicates = listing.duplicateCount;
    this.missingUidl = listing.withoutUidl.length;
    const listed = new Set(listing.messages.map((entry) => entry.uidl));
    for (const uidl of [...this.tooLarge.keys()]) if (!listed.has(uidl)) this.tooLarge.delete(uidl);
    for (const uidl of [...this.cutShort.keys()]) if (!listed.has(uidl)) this.cutShort.delete(uidl);
  }

  noteUidlChanges(recognised: number, now: number): void {
    this.uidlChanges = { at: now, recognised: (this.uidlChanges?.recognised ?? 0) + recognised };
  }

  report(limitBytes: number): ProblemReport {
    const iso = (at: number): string => new Date(at).toISOString();
    const skippedTooLarge = [...this.tooLarge].map(([uidl, entry]) => ({
      uidl,
      size: entry.size,
      atLeast: entry.atLeast,
      ...(entry.listSize !== undefined ? { listSize: entry.listSize } : {}),
      at: iso(entry.at),
    }));
    const cutShort = [...this.cutShort].map(([uidl, entry]) => ({
      uidl,
      reason: entry.reason,
      attempts: entry.attempts,
      maxAttempts: MAX_CUT_SHORT_ATTEMPTS,
      givenUp: entry.reason === 'not-dot-stuffed' && entry.attempts >= MAX_CUT_SHORT_ATTEMPTS,
      ...(entry.listSize !== undefined ? { listSize: entry.listSize } : {}),
      ...(entry.received !== undefined ? { received: entry.received } : {}),
    }));
    const report: ProblemReport = {
      skippedTooLarge,
      cutShort,
      duplicateUidls: this.duplicates,
      withoutUidl: this.missingUidl,
      notices: this.notices(limitBytes),
    };
    if (this.uidlChanges) report.uidlChanges = { at: iso(this.uidlChanges.at), recognised: this.uidlChanges.recognised };
    return report;
  }

  private notices(limitBytes: number): string[] {
    const notices: string[] = [];
    if (this.tooLarge.size > 0) {
      const sizes = [...this.tooLarge.values()]
        .slice(0, 3)
        .map((entry) =>
          entry.atLeast
            ? `more than ${megabytes(entry.size)}${entry.listSize !== undefined ? ` (the server's LIST said ${megabytes(entry.listSize)})` : ''}`
            : megabytes(entry.size),
        );
      const more = this.tooLarge.size > 3 ? `, and ${this.tooLarge.size - 3} more` : '';
      notices.push(
        `${count(this.tooLarge.size)} left on the server, larger than max_message_size (${megabytes(limitBytes)}): ${sizes.join(', ')}${more}`,
      );
    }
    const cut = [...this.cutShort.values()];
    const givenUp = cut.filter((entry) => entry.reason === 'not-dot-stuffed' && entry.attempts >= MAX_CUT_SHORT_ATTEMPTS);
    const retrying = cut.filter((entry) => !givenUp.includes(entry));
    if (retrying.length > 0) {
      const most = Math.max(...retrying.map((entry) => entry.attempts));
      notices.push(
        `${count(retrying.length)} came cut short by the server (${describeCut(retrying)}) and ${retrying.length === 1 ? 'was' : 'were'} not stored; ` +
          `trying again at the next poll (attempt ${most} of ${MAX_CUT_SHORT_ATTEMPTS} so far)`,
      );
    }
    if (givenUp.length > 0) {
      notices.push(
        `${count(givenUp.length)} could not be downloaded whole in ${MAX_CUT_SHORT_ATTEMPTS} polls: the server cuts ${givenUp.length === 1 ? 'it' : 'them'} ` +
          'short at a line holding only "." (it does not dot-stuff, RFC 1939 §3); left on the server, tried again after a restart',
      );
    }
    if (this.duplicates > 0) {
      notices.push(
        `${count(this.duplicates)} never fetched: the server lists ${this.duplicates === 1 ? 'its UIDL' : 'their UIDLs'} for another message too (RFC 1939 §7 wants them unique)`,
      );
    }
    if (this.missingUidl > 0) {
      notices.push(
        `${count(this.missingUidl)} never fetched: the server's UIDL listing leaves ${this.missingUidl === 1 ? 'it' : 'them'} out`,
      );
    }
    if (this.uidlChanges) {
      notices.push(
        `the server gave ${count(this.uidlChanges.recognised)} new UIDLs (at ${new Date(this.uidlChanges.at).toISOString()}); ` +
          'recognised by content as mail already here, so not downloaded again',
      );
    }
    return notices;
  }
}

function describeCut(entries: CutShort[]): string {
  if (entries.every((entry) => entry.reason === 'shorter-than-list')) return 'fewer bytes than its LIST size';
  return 'it does not dot-stuff a line holding only "."';
}

function count(n: number): string {
  return `${n} message${n === 1 ? '' : 's'}`;
}
