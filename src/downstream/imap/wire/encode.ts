/**
 * Encoders for the data forms of RFC 3501 §4 (atom, quoted, literal, NIL, parenthesized list).
 * Everything returns Buffers: header values and message bytes may hold 8-bit data that must reach
 * the client unchanged, so nothing here round-trips through a JS string decode.
 */

const NIL = Buffer.from('NIL');
const SPACE = Buffer.from(' ');
const OPEN = Buffer.from('(');
const CLOSE = Buffer.from(')');

/** A value to encode: a string (UTF-8), raw bytes, null for NIL, or a nested list. */
export type ImapData = string | Buffer | null | number | Atom | ImapList;
/** A parenthesized list (RFC 3501 §4.4). */
export interface ImapList {
  list: ImapData[];
}

/** Marks an atom that must be written bare (flags, keywords, `NIL` itself never goes through here). */
export class Atom {
  constructor(readonly text: string) {}
}

/**
 * Whether the bytes can go out as a quoted string (§4.3): 7-bit, no CR/LF/NUL, and short enough that a
 * literal would not be kinder to the client. Quote and backslash are escaped.
 */
function canQuote(bytes: Buffer): boolean {
  if (bytes.length > 1024) return false;
  for (const b of bytes) {
    if (b === 0x00 || b === 0x0a || b === 0x0d || b >= 0x80) return false;
  }
  return true;
}

/** Encodes bytes as a quoted string when allowed, otherwise as a synchronizing literal. */
export function encodeString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (canQuote(bytes)) {
    const parts: number[] = [0x22];
    for (const b of bytes) {
      if (b === 0x22 || b === 0x5c) parts.push(0x5c);
      parts.push(b);
    }
    parts.push(0x22);
    return Buffer.from(parts);
  }
  return encodeLiteral(bytes);
}

/** A literal `{n}\r\n` followed by exactly n bytes (§4.3); used for all message data. */
export function encodeLiteral(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`), bytes]);
}

/** `nstring` (§9): NIL for null/undefined, otherwise a string. */
export function encodeNString(value: string | Buffer | null | undefined): Buffer {
  return value === null || value === undefined ? NIL : encodeString(value);
}

/** Encodes a nested value; lists become parenthesized and space-separated. */
export function encodeData(value: ImapData | undefined): Buffer {
  if (value === null || value === undefined) return NIL;
  if (value instanceof Atom) return Buffer.from(value.text);
  if (typeof value === 'number') return Buffer.from(String(value));
  if (typeof value === 'string' || Buffer.isBuffer(value)) return encodeString(value);
  const parts: Buffer[] = [OPEN];
  value.list.forEach((item, i) => {
    if (i > 0) parts.push(SPACE);
    parts.push(encodeData(item));
  });
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

/** Shorthand for building a parenthesized list. */
export function list(...items: ImapData[]): ImapList {
  return { list: items };
}
