/**
 * Reading the arguments of one command (RFC 3501 §9 grammar), one small `expect` call at a time.
 * The cursor walks the command's text segments and steps into a literal where a segment ends in
 * `{n}`/`{n+}`. Anything unexpected throws `ImapError` BAD with a reason the client can read.
 */
import { canonicalSystemFlag } from '../../../store/index.js';
import { ImapError } from '../errors.js';
import { canonicalName, undecodableName } from '../mailbox-names.js';
import { decodeMailboxName } from './mutf7.js';
import type { RawCommand } from './reader.js';
import { parseSequenceSet, type SequenceSet } from './sequence-set.js';

// atom-specials (RFC 3501 §9): ( ) { SP CTL % * " \ ]  — 8-bit bytes are not ATOM-CHARs either.
const ATOM_SPECIAL = new Uint8Array(256);
for (let b = 0; b < 256; b++) if (b <= 0x20 || b >= 0x7f) ATOM_SPECIAL[b] = 1;
for (const c of '(){%*"\\]') ATOM_SPECIAL[c.charCodeAt(0)] = 1;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * Thrown when parsing a command that is still waiting for its synchronizing literal reaches that
 * literal: everything before it was fine.
 */
export class PendingLiteral extends Error {
  constructor() {
    super('the literal has not arrived yet');
    this.name = 'PendingLiteral';
  }
}

/** A cursor over one command's arguments with small `expect` readers for each grammar element. */
export class ArgReader {
  private segment = 0;
  private pos = 0;

  /** `partial`: the command ends in a literal that has not been sent yet (see PendingLiteral). */
  constructor(
    private readonly command: RawCommand,
    private readonly partial = false,
  ) {}

  private get text(): Buffer {
    return this.command.segments[this.segment];
  }

  /** The byte under the cursor, or -1 at the end of the command (or of a segment, before a literal). */
  peek(): number {
    return this.pos < this.text.length ? this.text[this.pos] : -1;
  }

  atEnd(): boolean {
    return this.segment === this.command.segments.length - 1 && this.pos >= this.text.length;
  }

  /** Fails unless the whole command has been read. */
  end(): void {
    if (!this.atEnd()) throw ImapError.bad(`Unexpected characters at the end of the command: ${this.preview()}`);
  }

  /** A few characters from the cursor, for error messages. */
  private preview(): string {
    const rest = this.text
      .subarray(this.pos, this.pos + 20)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '?');
    return rest.length > 0 ? `"${rest}"` : 'end of line';
  }

  /** Consumes one byte if it is `char`; returns whether it did. */
  accept(char: string): boolean {
    if (this.peek() !== char.charCodeAt(0)) return false;
    this.pos++;
    return true;
  }

  expect(char: string, what = `"${char}"`): void {
    if (!this.accept(char)) throw ImapError.bad(`Expected ${what} but found ${this.preview()}`);
  }

  /** Exactly one space between arguments. */
  space(): void {
    this.expect(' ', 'a space');
  }

  /** Consumes a space if one follows; true when it did. */
  acceptSpace(): boolean {
    return this.accept(' ');
  }

  /** Whether the next bytes spell `word` (case-insensitive) followed by a non-atom byte. */
  peekWord(word: string): boolean {
    const end = this.pos + word.length;
    if (end > this.text.length) return false;
    if (this.text.subarray(this.pos, end).toString('latin1').toUpperCase() !== word.toUpperCase()) return false;
    return end === this.text.length || ATOM_SPECIAL[this.text[end]] === 1 || this.text[end] === 0x5b;
  }

  /** Consumes `word` if it is next (case-insensitive). */
  acceptWord(word: string): boolean {
    if (!this.peekWord(word)) return false;
    this.pos += word.length;
    return true;
  }

  /** Reads bytes while `ok(byte)`; returns them as latin1 text. */
  private readWhile(ok: (byte: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.text.length && ok(this.text[this.pos])) this.pos++;
    return this.text.subarray(start, this.pos).toString('latin1');
  }

  /** `atom` (§9). */
  atom(what = 'an atom'): string {
    const value = this.readWhile((b) => ATOM_SPECIAL[b] === 0);
    if (value.length === 0) throw ImapError.bad(`Expected ${what} but found ${this.preview()}`);
    return value;
  }

  /** The tag that starts every command: ASTRING-CHARs except "+". */
  tag(): string {
    const value = this.readWhile((b) => (ATOM_SPECIAL[b] === 0 || b === 0x5d) && b !== 0x2b);
    if (value.length === 0) throw ImapError.bad('Missing or invalid command tag');
    return value;
  }

  /** A data item name such as `BODY.PEEK` or `RFC822.SIZE`: atom characters up to "[", "<" or a special. */
  itemName(what = 'a data item'): string {
    const value = this.readWhile((b) => ATOM_SPECIAL[b] === 0 && b !== 0x5b && b !== 0x3c);
    if (value.length === 0) throw ImapError.bad(`Expected ${what} but found ${this.preview()}`);
    return value;
  }

  /** `number` (§9): up to 2^32-1 (`number64` values up to 2^53 when `wide`). */
  number(what = 'a number', wide = false): number {
    const digits = this.readWhile((b) => b >= 0x30 && b <= 0x39);
    const max = wide ? Number.MAX_SAFE_INTEGER : 0xffffffff;
    if (digits.length === 0 || digits.length > 16 || Number(digits) > max)
      throw ImapError.bad(`Expected ${what} but found ${this.preview()}`);
    return Number(digits);
  }

  /** `nz-number`. */
  nzNumber(what = 'a non-zero number'): number {
    const value = this.number(what);
    if (value === 0) throw ImapError.bad(`Expected ${what} but found 0`);
    return value;
  }

  /** `string` (§4.3): quoted or literal, as bytes. */
  string(what = 'a string'): Buffer {
    const b = this.peek();
    if (b === 0x22) return this.quoted();
    if (b === 0x7b) return this.literal();
    throw ImapError.bad(`Expected ${what} but found ${this.preview()}`);
  }

  /** `astring`: atom (with "]" allowed) or string. */
  astring(what = 'a string'): Buffer {
    const b = this.peek();
    if (b === 0x22 || b === 0x7b) return this.string(what);
    const start = this.pos;
    this.readWhile((c) => ATOM_SPECIAL[c] === 0 || c === 0x5d);
    if (this.pos === start) throw ImapError.bad(`Expected ${what} but found ${this.preview()}`);
    return this.text.subarray(start, this.pos);
  }

  /** `nstring`: NIL or a string. */
  nstring(what = 'a string or NIL'): Buffer | null {
    if (this.acceptWord('NIL')) return null;
    return this.string(what);
  }

  private quoted(): Buffer {
    this.pos++; // the opening quote
    const bytes: number[] = [];
    for (;;) {
      const b = this.peek();
      if (b === -1) throw ImapError.bad('Unterminated quoted string');
      this.pos++;
      if (b === 0x22) return Buffer.from(bytes);
      if (b === 0x5c) {
        const escaped = this.peek();
        // Only quoted-specials may be escaped (RFC 3501 §9 `quoted`).
        if (escaped !== 0x22 && escaped !== 0x5c) throw ImapError.bad('Invalid escape in quoted string (only \\" and \\\\ are allowed)');
        this.pos++;
        bytes.push(escaped);
        continue;
      }
      if (b === 0x00) throw ImapError.bad('NUL in quoted string');
      bytes.push(b);
    }
  }

  private literal(): Buffer {
    const rest = this.text.subarray(this.pos).toString('latin1');
    const isLast = this.segment === this.command.segments.length - 1;
    if (isLast && this.partial && /^\{\d+\}$/.test(rest)) throw new PendingLiteral();
    if (isLast || !/^\{\d+\+?\}$/.test(rest)) throw ImapError.bad(`Invalid literal ${this.preview()}`);
    const value = this.command.literals[this.segment];
    this.segment++;
    this.pos = 0;
    return value;
  }

  /** A parenthesized list of items read by `item`, separated by single spaces; `()` is empty. */
  list<T>(item: () => T, what = 'a parenthesized list'): T[] {
    this.expect('(', what);
    const items: T[] = [];
    if (this.accept(')')) return items;
    for (;;) {
      items.push(item());
      if (this.accept(')')) return items;
      this.space();
    }
  }

  /** A mailbox name (§5.1): decoded from modified UTF-7 (or UTF-8 from clients that send it), INBOX in any case. */
  mailbox(): string {
    const raw = this.astring('a mailbox name');
    return decodeWireMailbox(raw);
  }

  /** `list-mailbox` (§6.3.8): a pattern with "%" and "*" allowed unquoted. */
  listPattern(): string {
    const b = this.peek();
    if (b === 0x22 || b === 0x7b) return decodeWireMailbox(this.string(), true);
    const start = this.pos;
    this.readWhile((c) => ATOM_SPECIAL[c] === 0 || c === 0x25 || c === 0x2a || c === 0x5d);
    if (this.pos === start) throw ImapError.bad(`Expected a mailbox pattern but found ${this.preview()}`);
    return decodeWireMailbox(this.text.subarray(start, this.pos), true);
  }

  /** `sequence-set` (§9), as written (resolving "*" needs the mailbox). */
  sequenceSet(): SequenceSet {
    const text = this.readWhile((b) => (b >= 0x30 && b <= 0x39) || b === 0x2a || b === 0x3a || b === 0x2c);
    const set = parseSequenceSet(text);
    if (!set) throw ImapError.bad(`Invalid sequence set ${text.length > 0 ? `"${text}"` : this.preview()}`);
    return set;
  }

  /** Whether a sequence set starts here (a digit or "*"). */
  peekSequenceSet(): boolean {
    const b = this.peek();
    return (b >= 0x30 && b <= 0x39) || b === 0x2a;
  }

  /** One `flag` (§9): a system flag, `\Recent` (for SEARCH), a flag extension or a keyword. */
  flag(allowWildcard = false): string {
    if (this.accept('\\')) {
      if (allowWildcard && this.accept('*')) return '\\*';
      const name = this.atom('a flag name');
      const canonical = canonicalSystemFlag(`\\${name}`);
      if (canonical) return canonical;
      if (name.toLowerCase() === 'recent') return '\\Recent';
      throw ImapError.bad(`Invalid system flag \\${name}`);
    }
    return this.atom('a flag');
  }

  /** `flag-list`: `(\Seen $Label1)`. */
  flagList(): string[] {
    return this.list(() => this.flag(), 'a flag list');
  }

  /** `date` (§9): `1-Feb-1994` or quoted; returns the UTC midnight of that day (ms). */
  date(): number {
    const quoted = this.accept('"');
    const text = this.readWhile((b) => b !== 0x22 && b !== 0x20 && b !== 0x29);
    if (quoted) this.expect('"', 'the closing quote of the date');
    const match = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
    const month = match ? MONTHS.indexOf(match[2].toLowerCase()) : -1;
    const day = match ? Number(match[1]) : 0;
    const midnight = match && month >= 0 ? utcDay(Number(match[3]), month, day) : undefined;
    if (midnight === undefined) throw ImapError.bad(`Invalid date "${text}" (expected e.g. 1-Feb-1994)`);
    return midnight;
  }

  /** Whether a quoted date-time follows (APPEND's optional argument). */
  peekDateTime(): boolean {
    return this.peek() === 0x22;
  }

  /** `date-time` (§9): `"17-Jul-1996 02:44:25 -0700"`; returns ms since the epoch. */
  dateTime(): number {
    const raw = this.string('a date-time').toString('latin1');
    const match = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(raw);
    const month = match ? MONTHS.indexOf(match[2].toLowerCase()) : -1;
    if (!match || month < 0) throw ImapError.bad(`Invalid date-time "${raw}" (expected e.g. "17-Jul-1996 02:44:25 -0700")`);
    const [day, year, hour, minute, second, zoneHours, zoneMinutes] = [1, 3, 4, 5, 6, 8, 9].map((i) => Number(match[i].trim()));
    const midnight = utcDay(year, month, day);
    if (midnight === undefined || hour > 23 || minute > 59 || second > 60 || zoneMinutes > 59)
      throw ImapError.bad(`Invalid date-time "${raw}"`);
    const offset = (match[7] === '-' ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
    return midnight + ((hour * 60 + minute - offset) * 60 + second) * 1000;
  }

  /** The raw text from the cursor up to (not including) the matching "]" (FETCH sections); quotes respected. */
  bracketed(): string {
    const start = this.pos;
    let inQuote = false;
    while (this.pos < this.text.length) {
      const b = this.text[this.pos];
      if (inQuote && b === 0x5c) this.pos++;
      else if (b === 0x22) inQuote = !inQuote;
      else if (b === 0x5d && !inQuote) {
        const value = this.text.subarray(start, this.pos).toString('latin1');
        this.pos++;
        return value;
      }
      this.pos++;
    }
    throw ImapError.bad('Missing "]" after the section');
  }
}

/**
 * Midnight UTC of a calendar day, or undefined when the day does not exist (31-Feb). Built with
 * setUTCFullYear because Date.UTC reads years 0-99 as 1900-1999, and `date-year` is any 4 digits.
 */
function utcDay(year: number, month: number, day: number): number | undefined {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined;
  return date.getTime();
}

/** Decodes a wire mailbox name or pattern to Unicode; "INBOX" in any case becomes "INBOX", also as a parent. */
export function decodeWireMailbox(raw: Buffer, pattern = false): string {
  let name: string;
  if (raw.every((b) => b < 0x80)) {
    const wire = raw.toString('latin1');
    const decoded = decodeMailboxName(wire);
    // Well-formed syntax naming no mailbox: the command answers NO, never BAD (mailbox-names.ts).
    if (decoded === undefined) return undecodableName(wire);
    name = decoded;
  } else {
    // Not RFC 3501, but clients that speak UTF-8 exist; U+FFFD marks bytes that are not UTF-8 either.
    name = raw.toString('utf8');
  }
  // The same canonical form CREATE stores (mailbox-names.ts): "inbox/x" is "INBOX/x" (RFC 3501 §5.1),
  // so every command finds the mailbox CREATE made. Patterns are canonicalised by listMatcher.
  return pattern ? name : canonicalName(name);
}
