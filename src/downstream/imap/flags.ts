/** Flag lists as IMAP shows them (RFC 3501 §2.3.2), and the keyword limits as IMAP answers them. */
import {
  checkMailboxKeywords,
  isKeyword,
  KeywordLimitError,
  MAX_KEYWORD_LENGTH,
  MAX_KEYWORDS_PER_MAILBOX,
  MAX_KEYWORDS_PER_MESSAGE,
  type MessageRecord,
} from '../../store/index.js';
import type { TimeSlice } from '../../runtime/time-slice.js';
import type { MailStore } from './backend.js';
import { ImapError } from './errors.js';

/** `(\Seen $Label)` with `\Recent` added when the message is recent in this session. */
export function formatFlags(flags: readonly string[], recent: boolean): string {
  if (!recent) return `(${flags.join(' ')})`;
  return flags.length === 0 ? '(\\Recent)' : `(${flags.join(' ')} \\Recent)`;
}

/** Whether a flag list holds a flag (flags compare case-insensitively). */
export function hasFlag(flags: readonly string[], flag: string): boolean {
  const lower = flag.toLowerCase();
  for (const f of flags) if (f.toLowerCase() === lower) return true;
  return false;
}

/**
 * STORE and APPEND: a keyword over MAX_KEYWORD_LENGTH bytes is a malformed request (BAD); more keywords
 * than one message may carry is a limit (NO [LIMIT], RFC 5530 §3), refused before the store is asked.
 */
export function checkRequestedKeywords(flags: readonly string[]): void {
  const keywords = new Set<string>();
  for (const flag of flags) {
    if (!isKeyword(flag)) continue;
    if (Buffer.byteLength(flag) > MAX_KEYWORD_LENGTH) throw ImapError.bad(`Keywords may be at most ${MAX_KEYWORD_LENGTH} bytes long`);
    keywords.add(flag.toLowerCase());
  }
  if (keywords.size > MAX_KEYWORDS_PER_MESSAGE)
    throw ImapError.no(`A message may carry at most ${MAX_KEYWORDS_PER_MESSAGE} keywords`, 'LIMIT');
}

/** Runs a store call that may add keywords; a KeywordLimitError becomes NO [LIMIT] (RFC 5530 §3). */
export async function withinKeywordLimits<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof KeywordLimitError) throw ImapError.no(err.message, 'LIMIT');
    throw err;
  }
}

/**
 * Before a STORE that sets or adds keywords goes to the store in batches (store-batches.ts): NO [LIMIT]
 * when the mailbox would hold too many distinct keywords, or one of the messages too many, so that a
 * refused STORE has changed nothing. (Setting replaces the list, which checkRequestedKeywords bounds.)
 */
export async function checkStoreKeywords(
  store: MailStore,
  mailboxId: number,
  targets: readonly MessageRecord[],
  mode: 'set' | 'add',
  flags: readonly string[],
  slice: TimeSlice,
): Promise<void> {
  const requested = new Set(flags.filter(isKeyword).map((flag) => flag.toLowerCase()));
  if (requested.size === 0) return;
  await withinKeywordLimits(async () => checkMailboxKeywords(await store.listMessages(mailboxId), flags));
  if (mode !== 'add') return;
  for (const record of targets) {
    if (slice.due()) await slice.yield();
    let count = requested.size;
    for (const flag of record.flags) {
      if (isKeyword(flag) && !requested.has(flag.toLowerCase())) count++;
    }
    if (count > MAX_KEYWORDS_PER_MESSAGE) throw ImapError.no(`A message may carry at most ${MAX_KEYWORDS_PER_MESSAGE} keywords`, 'LIMIT');
  }
}

/** PERMANENTFLAGS may offer `\*` (new keywords) only while the mailbox is below its keyword limit (RFC 3501 §2.3.2). */
export function mayCreateKeywords(keywordsInMailbox: number): boolean {
  return keywordsInMailbox < MAX_KEYWORDS_PER_MAILBOX;
}
