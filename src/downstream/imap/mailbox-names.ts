/**
 * Mailbox names (RFC 3501 §5.1): "/" separates hierarchy levels, INBOX is case-insensitive, and the
 * LIST wildcards "*" (anything) and "%" (anything but "/") select names.
 */
import { ImapError } from './errors.js';
import { WildcardPattern } from './wildcard.js';
import { encodeMailboxName } from './wire/mutf7.js';

/** The hierarchy delimiter this server shows (LIST, RFC 3501 §6.3.8); to the store a name is just a name. */
export const DELIMITER = '/';

/**
 * How a name that is not valid modified UTF-7 (RFC 3501 §5.1.3) is carried through a command: the wire
 * text behind a NUL, which no stored name can hold (validateNewName refuses control characters). It
 * names no mailbox, so SELECT, EXAMINE and STATUS answer NO, CREATE and RENAME NO [CANNOT], and a LIST
 * pattern made of it matches nothing; the syntax itself was fine, so it is never BAD.
 */
const UNDECODABLE = '\u0000';

/** The stand-in for a wire name that is not valid modified UTF-7 (see UNDECODABLE). */
export function undecodableName(wire: string): string {
  return UNDECODABLE + wire;
}

/** Whether a name came from wire text that is not valid modified UTF-7. */
export function isUndecodable(name: string): boolean {
  return name.startsWith(UNDECODABLE);
}

/**
 * The name a new mailbox gets (CREATE, RENAME's target). Refused with NO [CANNOT], as Dovecot refuses
 * them: an empty name, "." or "..", an empty level ("a//b", "/a", "a/"), a "." or ".." level ("a/../b"),
 * wildcards, control characters, a name that is not modified UTF-7, over 1000 characters. CREATE may end
 * the name with one delimiter (`trailingDelimiter`): RFC 3501 §6.3.3 reads it as "children will follow"
 * and it is dropped. Existing names are never checked again, so one made before these rules can still
 * be selected and renamed.
 */
export function validateNewName(name: string, options: { trailingDelimiter?: boolean } = {}): string {
  if (isUndecodable(name)) throw ImapError.no('The mailbox name is not valid modified UTF-7 (RFC 3501 section 5.1.3)', 'CANNOT');
  const trimmed = options.trailingDelimiter && name.endsWith(DELIMITER) ? name.slice(0, -1) : name;
  if (trimmed.length === 0) throw ImapError.no('The mailbox name is empty', 'CANNOT');
  if (trimmed.length > 1000) throw ImapError.no('The mailbox name is too long (the limit is 1000 characters)', 'CANNOT');
  for (const level of trimmed.split(DELIMITER)) {
    if (level.length === 0)
      throw ImapError.no(`The mailbox name has an empty hierarchy level (before, between or after "${DELIMITER}")`, 'CANNOT');
    if (level === '.' || level === '..') throw ImapError.no('"." and ".." cannot be mailbox names or hierarchy levels', 'CANNOT');
  }
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
 * at the start of the pattern matches case-insensitively. The pattern is matched by hand in linear
 * steps (wildcard.ts), never turned into a regular expression.
 */
export function listMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full = pattern.startsWith(DELIMITER) && reference.endsWith(DELIMITER) ? reference + pattern.slice(1) : reference + pattern;
  full = canonicalName(full);
  const compiled = new WildcardPattern(full, DELIMITER);
  return (name) => compiled.test(name);
}

/** A mailbox name as a quoted string on the wire (modified UTF-7 is printable ASCII, so quoting always works). */
export function quoteMailbox(name: string): string {
  return `"${encodeMailboxName(name).replace(/["\\]/g, '\\$&')}"`;
}
