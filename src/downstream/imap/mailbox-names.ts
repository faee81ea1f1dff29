/**
 * Mailbox names (RFC 3501 §5.1): "/" separates hierarchy levels, INBOX is case-insensitive, and the
 * LIST wildcards "*" (anything) and "%" (anything but "/") select names.
 */
import { ImapError } from './errors.js';
import { encodeMailboxName } from './wire/mutf7.js';

/** The hierarchy delimiter this server shows (LIST, RFC 3501 §6.3.8); to the store a name is just a name. */
export const DELIMITER = '/';

/**
 * The name CREATE or RENAME will use: a trailing delimiter is dropped (RFC 3501 §6.3.3); empty levels,
 * wildcards and control characters are refused.
 */
export function validateNewName(name: string): string {
  const trimmed = name.endsWith(DELIMITER) ? name.slice(0, -1) : name;
  if (trimmed.length === 0) throw ImapError.no('The mailbox name is empty', 'CANNOT');
  if (trimmed.length > 1000) throw ImapError.no('The mailbox name is too long', 'CANNOT');
  if (trimmed.split(DELIMITER).some((level) => level.length === 0)) throw ImapError.no('The mailbox name has an empty hierarchy level', 'CANNOT');
  // eslint-disable-next-line no-control-regex
  if (/[*%\u0000-\u001f\u007f]/.test(trimmed)) throw ImapError.no('Mailbox names cannot contain "*", "%" or control characters', 'CANNOT');
  return canonicalName(trimmed);
}

/** "inbox" in any case is INBOX; so is the first level of its children ("Inbox/x" -> "INBOX/x"). */
export function canonicalName(name: string): string {
  const upper = name.slice(0, 6).toUpperCase();
  if (upper === 'INBOX') return 'INBOX';
  if (upper === `INBOX${DELIMITER}`) return `INBOX${name.slice(5)}`;
  return name;
}

/** The names above a name: "a/b/c" -> ["a", "a/b"]. */
export function ancestorsOf(name: string): string[] {
  const levels = name.split(DELIMITER);
  const out: string[] = [];
  for (let i = 1; i < levels.length; i++) out.push(levels.slice(0, i).join(DELIMITER));
  return out;
}

/**
 * A matcher for a LIST pattern (RFC 3501 §6.3.8). The reference is prefixed to the pattern; INBOX
 * at the start of the pattern matches case-insensitively.
 */
export function listMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full = pattern.startsWith(DELIMITER) && reference.endsWith(DELIMITER) ? reference + pattern.slice(1) : reference + pattern;
  full = canonicalName(full);
  let source = '^';
  for (const char of full) {
    if (char === '*') source += '.*';
    else if (char === '%') source += `[^${escapeRegExp(DELIMITER)}]*`;
    else source += escapeRegExp(char);
  }
  const regex = new RegExp(source + '$', 's');
  return (name) => regex.test(name);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A mailbox name as a quoted string on the wire (modified UTF-7 is printable ASCII, so quoting always works). */
export function quoteMailbox(name: string): string {
  return `"${encodeMailboxName(name).replace(/["\\]/g, '\\$&')}"`;
}
