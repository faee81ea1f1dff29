/**
 * Errors as values: a command handler (or the argument parser) throws an `ImapError` carrying the
 * status (NO or BAD), an optional response code (RFC 3501 §7.1, RFC 5530) and a human text; the
 * connection turns it into the tagged line in exactly one place (`taggedLine`).
 */
import { StoreError } from '../../store/index.js';

/** The status of a tagged reply. */
export type ImapStatus = 'OK' | 'NO' | 'BAD';

/** A command failure to report as a tagged NO or BAD, with an optional response code. */
export class ImapError extends Error {
  constructor(
    readonly status: 'NO' | 'BAD',
    readonly text: string,
    /** A response code without brackets, e.g. `TRYCREATE` or `BADCHARSET (UTF-8 US-ASCII)`. */
    readonly code?: string,
  ) {
    super(text);
    this.name = 'ImapError';
  }

  /** The command was understood but could not be done (RFC 3501 §7.1.2). */
  static no(text: string, code?: string): ImapError {
    return new ImapError('NO', text, code);
  }

  /** The command was malformed, or not allowed in this state (RFC 3501 §7.1.3). */
  static bad(text: string, code?: string): ImapError {
    return new ImapError('BAD', text, code);
  }
}

/** Maps a store failure, in the store's words, to the NO a client can act on (RFC 5530 response codes). */
export function fromStoreError(err: StoreError): ImapError {
  switch (err.code) {
    case 'not-found':
      return ImapError.no(err.message, 'NONEXISTENT');
    case 'exists':
      return ImapError.no(err.message, 'ALREADYEXISTS');
    case 'not-allowed':
      return ImapError.no(err.message, 'CANNOT');
    case 'limit':
      return ImapError.no(err.message, 'LIMIT');
    case 'in-use':
      return ImapError.no(err.message, 'INUSE');
    case 'closed':
      return ImapError.no('the mail store is shutting down', 'UNAVAILABLE');
    // The store's own faults (store/errors.ts): RFC 5530 §3 has a code for each.
    case 'no-space':
      return ImapError.no(`Cannot store anything now: ${err.message}`, 'OVERQUOTA');
    case 'damaged':
      return ImapError.no(err.message, 'CORRUPTION');
    case 'unwritable':
    case 'unavailable':
      return ImapError.no(err.message, 'UNAVAILABLE');
  }
}

/** The tagged (or untagged, with tag `*`) status line: `A1 NO [TRYCREATE] No such mailbox\r\n`. */
export function taggedLine(tag: string, status: ImapStatus, text: string, code?: string): string {
  return `${tag} ${status} ${code ? `[${code}] ` : ''}${sanitizeText(text)}\r\n`;
}

/** Response text is `1*TEXT-CHAR` (RFC 3501 §9): 7-bit, no CR, LF or NUL may leak from an error message. */
function sanitizeText(text: string): string {
  // A NUL goes without a trace: it marks a name that is not modified UTF-7 (mailbox-names.ts).
  const clean = text
    // eslint-disable-next-line no-control-regex
    .replace(/\u0000/g, '')
    .replace(/[\r\n]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return clean.length > 0 ? clean : 'done';
}
