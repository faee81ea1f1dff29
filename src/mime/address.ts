/**
 * RFC 5322 §3.4 address lists turned into IMAP ENVELOPE addresses (RFC 3501 §7.4.2): each address
 * is `(name adl mailbox host)`, a group is opened by `(NIL NIL groupname NIL)` and closed by
 * `(NIL NIL NIL NIL)`. Names stay as written (encoded words are not decoded; IMAP sends them raw).
 * The parser is lenient: it never throws and makes the best of broken lists, the way Dovecot does
 * (a missing domain becomes `MISSING_DOMAIN`, so the address cannot be mistaken for a group marker).
 */
import { decodeHeaderText } from './content-params.js';

/**
 * One address in four parts, `[display name, source route, local part, domain]` (the order RFC 3501's
 * ENVELOPE uses), each a binary string (one char per byte) or null when absent. A group is opened by
 * `[null, null, group name, null]` and closed by four nulls.
 */
export type AddressParts = [string | null, string | null, string | null, string | null];

/** Placeholder host for an address without `@domain` (as Dovecot sends; a NIL host would mean a group). */
export const MISSING_DOMAIN = 'MISSING_DOMAIN';
/** Placeholder mailbox for an address without a local part. */
export const MISSING_MAILBOX = 'MISSING_MAILBOX';

type Token =
  | { kind: 'word'; text: string; quoted: boolean; spaceBefore: boolean }
  | { kind: 'comment'; text: string }
  | { kind: 'special'; text: string };

const SPECIALS = '<>@,;:.[]';

function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let space = false;
  const n = value.length;
  while (i < n) {
    const c = value[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      space = true;
      i++;
    } else if (c === '(') {
      let depth = 0;
      let text = '';
      while (i < n) {
        const d = value[i];
        if (d === '\\' && i + 1 < n) {
          text += value[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') {
          if (depth > 0) text += d;
          depth++;
        } else if (d === ')') {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
          text += d;
        } else if (d !== '\r' && d !== '\n') text += d;
        i++;
      }
      tokens.push({ kind: 'comment', text: text.trim() });
      space = true;
    } else if (c === '"') {
      let text = '';
      i++;
      while (i < n && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < n) i++;
        if (value[i] !== '\r' && value[i] !== '\n') text += value[i];
        i++;
      }
      i++;
      tokens.push({ kind: 'word', text, quoted: true, spaceBefore: space });
      space = false;
    } else if (c === '[') {
      // Domain literal, kept with its brackets (RFC 5322 §3.4.1).
      const close = value.indexOf(']', i);
      const stop = close < 0 ? n : close + 1;
      tokens.push({ kind: 'word', text: value.slice(i, stop).replace(/[\r\n]/g, ''), quoted: false, spaceBefore: space });
      i = stop;
      space = false;
    } else if (SPECIALS.includes(c)) {
      tokens.push({ kind: 'special', text: c });
      i++;
      space = false;
    } else if (c === ')') {
      i++; // a stray closing parenthesis has nothing to close: drop it
    } else {
      const from = i;
      while (i < n && !' \t\r\n()"'.includes(value[i]) && !SPECIALS.includes(value[i])) i++;
      tokens.push({ kind: 'word', text: value.slice(from, i), quoted: false, spaceBefore: space });
      space = false;
    }
  }
  return tokens;
}

/** Parses the tokens of one header value into IMAP addresses. */
class AddressListParser {
  private pos = 0;
  readonly out: AddressParts[] = [];
  constructor(private readonly tokens: Token[]) {}

  private peekSpecial(): string | null {
    const t = this.tokens[this.pos];
    return t && t.kind === 'special' ? t.text : null;
  }

  /** Addresses separated by commas; anything else after an address ends the list, as in Dovecot. */
  parseList(): void {
    while (this.pos < this.tokens.length) {
      this.parseAddress(false);
      if (this.peekSpecial() !== ',') break;
      this.pos++;
    }
  }

  /** One mailbox or group; inside a group, a `;` ends the group instead. */
  private parseAddress(inGroup: boolean): void {
    const phrase: string[] = [];
    const phraseStart = this.pos;
    let comment: string | null = null;
    let lastWasDot = false;
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (t.kind === 'comment') {
        // Only a comment inside or after an addr-spec names it (`a@b (Name)`); one before it does not.
        if (t.text !== '' && phrase.length > 0) comment = t.text;
        this.pos++;
      } else if (t.kind === 'word') {
        if (phrase.length > 0 && !lastWasDot && t.spaceBefore) phrase.push(' ');
        phrase.push(t.text);
        lastWasDot = false;
        this.pos++;
      } else if (t.text === '.') {
        phrase.push('.');
        lastWasDot = true;
        this.pos++;
      } else break;
    }
    const special = this.peekSpecial();
    const phraseText = phrase.join('');
    if (special === ':' && !inGroup) {
      this.pos++;
      this.out.push([null, null, phraseText, null]);
      while (this.pos < this.tokens.length && this.peekSpecial() !== ';') {
        this.parseAddress(true);
        if (this.peekSpecial() !== ',') break;
        this.pos++;
      }
      if (this.peekSpecial() === ';') this.pos++;
      this.trailingComment();
      this.out.push([null, null, null, null]);
      return;
    }
    if (special === '<') {
      this.pos++;
      // In `name <addr>` only the phrase names the address; comments around it do not.
      this.parseAngleAddr(phraseText !== '' ? phraseText : null);
      return;
    }
    if (special === '@') {
      // addr-spec: the "phrase" so far was the local part, written without spaces.
      const local = phrase.filter((p) => p !== ' ').join('');
      this.pos++;
      const domain = this.readDomain();
      this.out.push([this.trailingComment() ?? comment, null, local || MISSING_MAILBOX, domain || MISSING_DOMAIN]);
      return;
    }
    if (phraseText !== '') {
      // Words without `@` or `<>`: one bare word is taken for a mailbox without domain, several
      // words (or one quoted string) for a display name without address (Dovecot's reading).
      const named = this.trailingComment() ?? comment;
      const words = this.wordsSince(phraseStart);
      if (named !== null) this.out.push([named, null, phrase.filter((p) => p !== ' ').join(''), MISSING_DOMAIN]);
      else if (words.length === 1 && !words[0].quoted) this.out.push([null, null, words[0].text, MISSING_DOMAIN]);
      else this.out.push([phraseText, null, MISSING_MAILBOX, MISSING_DOMAIN]);
    }
  }

  /** The word tokens between `from` and the current position. */
  private wordsSince(from: number): { text: string; quoted: boolean }[] {
    const words: { text: string; quoted: boolean }[] = [];
    for (let i = from; i < this.pos; i++) {
      const t = this.tokens[i];
      if (t.kind === 'word') words.push(t);
    }
    return words;
  }

  /** A comment right after an addr-spec (`a@b (Name)`) supplies the name. */
  private trailingComment(): string | null {
    let found: string | null = null;
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (t.kind !== 'comment') break;
      if (t.text !== '') found = t.text;
      this.pos++;
    }
    return found;
  }

  private readDomain(): string {
    let domain = '';
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (t.kind === 'comment') {
        // A comment inside the domain ends it; it may still name the address.
        break;
      }
      if (t.kind === 'word') domain += t.text;
      else if (t.text === '.') domain += '.';
      else break;
      this.pos++;
    }
    return domain;
  }

  /** `<[@route,@route:]local@domain>` after a display name (RFC 5322 §3.4, obs-route §4.4). */
  private parseAngleAddr(name: string | null): void {
    let route: string | null = null;
    if (this.peekSpecial() === '@') {
      let r = '';
      while (this.pos < this.tokens.length) {
        const t = this.tokens[this.pos];
        if (t.kind === 'special' && (t.text === ':' || t.text === '>')) break;
        if (t.kind !== 'comment') r += t.text;
        this.pos++;
      }
      if (this.peekSpecial() === ':') {
        this.pos++;
        route = r;
      }
    }
    let local = '';
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (t.kind === 'special' && (t.text === '@' || t.text === '>' || t.text === ',' || t.text === ';')) break;
      if (t.kind === 'word' || t.text === '.') local += t.text;
      this.pos++;
    }
    let domain = '';
    if (this.peekSpecial() === '@') {
      this.pos++;
      while (this.pos < this.tokens.length) {
        const t = this.tokens[this.pos];
        if (t.kind === 'special' && (t.text === '>' || t.text === ',' || t.text === ';')) break;
        if (t.kind === 'word' || t.text === '.') domain += t.text;
        this.pos++;
      }
    }
    if (this.peekSpecial() === '>') this.pos++;
    this.trailingComment();
    this.out.push([name, route, local || MISSING_MAILBOX, domain || MISSING_DOMAIN]);
  }
}

/** Parses a raw address header value; an empty or address-free value gives an empty list. */
export function parseAddressList(value: string): AddressParts[] {
  const parser = new AddressListParser(tokenize(value));
  parser.parseList();
  return parser.out;
}

/**
 * The addresses of a parsed list as one searchable text (SEARCH FROM/TO/CC/BCC, RFC 3501 §6.4.4),
 * lower-cased: each address as `name <mailbox@host>` with its display name decoded (RFC 2047 words,
 * UTF-8), or `mailbox@host` without one; a group as `group: members;`. However the header wrote them
 * (comments inside the address, angle brackets, a name in a trailing comment, encoded words), an
 * address reads the same here, so a search for `user@domain.org` finds every message that has it.
 */
export function addressSearchText(list: readonly AddressParts[]): string {
  const decodeName = decodeHeaderText;
  const parts: string[] = [];
  let inGroup = false;
  let groupMembers: string[] = [];
  for (const [name, , mailbox, host] of list) {
    if (host === null) {
      if (mailbox !== null) {
        // Group start `(NIL NIL groupname NIL)`.
        inGroup = true;
        groupMembers = [];
        parts.push(`${decodeName(mailbox)}:`);
      } else if (inGroup) {
        // Group end `(NIL NIL NIL NIL)`.
        parts[parts.length - 1] += ` ${groupMembers.join(', ')};`;
        inGroup = false;
      }
      continue;
    }
    const address = [mailbox === MISSING_MAILBOX ? '' : mailbox, host === MISSING_DOMAIN ? '' : host].filter(Boolean).join('@');
    const written = name ? (address ? `${decodeName(name)} <${address}>` : decodeName(name)) : address;
    if (inGroup) groupMembers.push(written);
    else parts.push(written);
  }
  return parts.join(', ').toLowerCase();
}
