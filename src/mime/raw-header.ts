/**
 * Reading a header block (RFC 5322 §2.2) straight from the message bytes. Field values are kept as
 * "binary" strings (one char per byte, latin1) so that 8-bit header bytes survive unchanged into the
 * IMAP ENVELOPE and BODYSTRUCTURE, which RFC 3501 §7.4.2 wants undecoded.
 */

/** One header field as it sits in the message: its name, its raw value and where its lines are. */
export interface RawHeaderField {
  /** The name as written, without the colon and trailing blanks. */
  name: string;
  /** Lower-cased name, for case-insensitive matching (RFC 5322 §1.2.2); '' for a line without a colon. */
  key: string;
  /** Everything after the colon, folding line breaks still inside, the final line break removed. */
  value: string;
  /** Byte offset of the field's first line. */
  start: number;
  /** Byte offset just after the field's last line break (or the end of the block). */
  end: number;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/** Length of the line break ending at `lfPos` (1 for LF, 2 for CRLF). */
export function newlineLengthAt(raw: Buffer, lfPos: number, floor: number): number {
  return lfPos > floor && raw[lfPos - 1] === CR ? 2 : 1;
}

/** Whether the line starting at `pos` is empty (the end of a header block). */
export function isBlankLineAt(raw: Buffer, pos: number, end: number): boolean {
  if (pos >= end) return false;
  if (raw[pos] === LF) return true;
  return raw[pos] === CR && pos + 1 < end && raw[pos + 1] === LF;
}

/** Offset just after the line starting at `pos` (after its LF, or `end`). */
export function lineEndAfter(raw: Buffer, pos: number, end: number): number {
  const lf = raw.indexOf(LF, pos);
  return lf < 0 || lf >= end ? end : lf + 1;
}

/**
 * Splits the header lines in [start, end) into fields. `end` is where the header block stops
 * (normally just after the blank line). A line without a colon is kept as a field with an empty key
 * and value: it is part of the header bytes (HEADER, HEADER.FIELDS.NOT) but names nothing.
 */
export function readHeaderFields(raw: Buffer, start: number, end: number): RawHeaderField[] {
  const fields: RawHeaderField[] = [];
  let pos = start;
  while (pos < end) {
    if (isBlankLineAt(raw, pos, end)) break;
    const fieldStart = pos;
    let next = lineEndAfter(raw, pos, end);
    const firstLineEnd = next;
    // Continuation lines start with WSP (RFC 5322 §2.2.3).
    while (next < end && (raw[next] === SP || raw[next] === TAB)) next = lineEndAfter(raw, next, end);
    // Only the first line can hold the colon; searching past it made a header of colon-less lines quadratic.
    const found = raw.subarray(fieldStart, firstLineEnd).indexOf(COLON);
    const colon = found === -1 ? -1 : fieldStart + found;
    let contentEnd = next;
    if (contentEnd > fieldStart && raw[contentEnd - 1] === LF) contentEnd -= newlineLengthAt(raw, contentEnd - 1, fieldStart);
    let name: string;
    let value: string;
    if (colon >= 0 && colon < firstLineEnd && colon < contentEnd) {
      name = raw.toString('latin1', fieldStart, colon).replace(/[ \t]+$/, '');
      value = raw.toString('latin1', colon + 1, contentEnd);
    } else {
      name = raw.toString('latin1', fieldStart, contentEnd);
      value = '';
    }
    // A line without a colon names no field: its key stays empty, so HEADER.FIELDS never picks it.
    fields.push({
      name,
      key: colon >= 0 && colon < firstLineEnd && colon < contentEnd ? name.toLowerCase() : '',
      value,
      start: fieldStart,
      end: next,
    });
    pos = next;
  }
  return fields;
}

/** Removes folding line breaks (RFC 5322 §2.2.3 unfolding) and trims the value. */
export function unfold(value: string): string {
  return value.replace(/\r?\n/g, '').trim();
}
