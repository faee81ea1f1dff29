/**
 * Bounds on keywords (flags without a leading "\"). Every keyword is kept on every message that has it
 * and announced to every session in FLAGS, so without bounds one STORE line of 12,000 keywords on a
 * large mailbox costs hundreds of megabytes. RFC 3501 §2.3.2 lets a server refuse new keywords
 * (PERMANENTFLAGS without `\*`); system flags are never limited.
 */
import { StoreError } from './errors.js';
import { isKeyword } from './flags.js';
import type { MessageRecord } from './records.js';

/** The longest keyword accepted, in bytes (Dovecot and Cyrus accept far less than a line's worth too). */
export const MAX_KEYWORD_LENGTH = 64;
/** Keywords one message may carry. */
export const MAX_KEYWORDS_PER_MESSAGE = 64;
/** Distinct keywords in use in one mailbox; at this count no new keyword may be introduced. */
export const MAX_KEYWORDS_PER_MAILBOX = 256;

/** A refused change that would go over one of the keyword limits; nothing was written. */
export class KeywordLimitError extends StoreError {
  constructor(message: string) {
    super('limit', message);
    this.name = 'KeywordLimitError';
  }
}

/** How many keywords a flag list holds (the list is already free of duplicates). */
export function keywordCount(flags: readonly string[]): number {
  let count = 0;
  for (const flag of flags) if (isKeyword(flag)) count++;
  return count;
}

/** Distinct keywords (lower case) used by the given messages. */
export function keywordsInUse(records: readonly MessageRecord[]): Set<string> {
  const seen = new Set<string>();
  for (const record of records) for (const flag of record.flags) if (isKeyword(flag)) seen.add(flag.toLowerCase());
  return seen;
}

/** Throws unless a message's final flag list stays within MAX_KEYWORDS_PER_MESSAGE keywords, none too long. */
export function checkMessageKeywords(flags: readonly string[]): void {
  for (const flag of flags) {
    if (isKeyword(flag) && Buffer.byteLength(flag) > MAX_KEYWORD_LENGTH)
      throw new KeywordLimitError(`A keyword may be at most ${MAX_KEYWORD_LENGTH} bytes long`);
  }
  if (keywordCount(flags) > MAX_KEYWORDS_PER_MESSAGE) {
    throw new KeywordLimitError(`A message may carry at most ${MAX_KEYWORDS_PER_MESSAGE} keywords`);
  }
}

/**
 * Throws if giving `flags` to messages of a mailbox holding `records` would bring the mailbox over
 * MAX_KEYWORDS_PER_MAILBOX distinct keywords. Keywords already in use are always fine, so a full
 * mailbox can still have them set and cleared. `alsoInUse` (lower case): keywords given by earlier
 * operations of the same batch, not yet in `records`.
 */
export function checkMailboxKeywords(
  records: readonly MessageRecord[],
  flags: readonly string[],
  alsoInUse: ReadonlySet<string> = new Set(),
): void {
  const wanted = new Set<string>();
  for (const flag of flags) if (isKeyword(flag) && !alsoInUse.has(flag.toLowerCase())) wanted.add(flag.toLowerCase());
  if (wanted.size === 0) return;
  const inUse = new Set<string>(alsoInUse);
  for (const record of records) {
    for (const flag of record.flags) {
      if (!isKeyword(flag)) continue;
      const lower = flag.toLowerCase();
      inUse.add(lower);
      wanted.delete(lower);
    }
    // Every wanted keyword is already in use: nothing new is introduced, no need to count further.
    if (wanted.size === 0) return;
  }
  if (inUse.size + wanted.size > MAX_KEYWORDS_PER_MAILBOX) {
    throw new KeywordLimitError(`A mailbox may hold at most ${MAX_KEYWORDS_PER_MAILBOX} distinct keywords; no new ones can be added`);
  }
}
