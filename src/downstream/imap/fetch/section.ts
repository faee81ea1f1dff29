/**
 * BODY[section]<partial> (RFC 3501 §6.4.5): reading the section text and cutting the exact bytes out
 * of the stored message, using the offsets in the message index.
 *
 *   C: A1 FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (From Subject)]<0.100>)
 *   S: * 1 FETCH (BODY[1.2.HEADER.FIELDS ("From" "Subject")]<0> {52}
 *
 * Part numbering: a multipart's parts are 1..n; a non-multipart message (or a part that is not
 * multipart) has only part 1, its own body; after a message/rfc822 part the numbers continue in the
 * encapsulated message. HEADER, HEADER.FIELDS[.NOT] and TEXT after a part number need a
 * message/rfc822 part; MIME needs a part number.
 */
import type { MessageIndex, MimePart } from '../../../mime/index.js';
import { readHeaderFields } from '../../../mime/raw-header.js';

/** A parsed section: numeric path and an optional text specifier. */
export type SectionSpec = {
  part: number[];
  text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Field names for HEADER.FIELDS[.NOT], as the client wrote them. */
  fields?: string[];
};

/** A section text the client got wrong; the command layer answers BAD with its message. */
export class SectionSyntaxError extends Error {
  override name = 'SectionSyntaxError';
}

// eslint-disable-next-line no-control-regex -- CTLs are not ATOM-CHARs (RFC 3501 §9)
const ATOM_CHAR = /[^\s(){%*"\\\]\x00-\x1f\x7f]/;

/** Reads the header-list `(name name ...)`: atoms, quoted strings or literals (§9 astring). */
function parseFieldList(text: string): string[] {
  let pos = 0;
  const fields: string[] = [];
  const skipSpaces = (): void => {
    while (text[pos] === ' ') pos++;
  };
  skipSpaces();
  if (text[pos] !== '(') throw new SectionSyntaxError('header list must start with "("');
  pos++;
  for (;;) {
    skipSpaces();
    const c = text[pos];
    if (c === undefined) throw new SectionSyntaxError('unterminated header list');
    if (c === ')') {
      pos++;
      break;
    }
    if (c === '"') {
      let value = '';
      pos++;
      while (pos < text.length && text[pos] !== '"') {
        if (text[pos] === '\\') pos++;
        value += text[pos] ?? '';
        pos++;
      }
      if (text[pos] !== '"') throw new SectionSyntaxError('unterminated quoted field name');
      pos++;
      fields.push(value);
    } else if (c === '{') {
      const m = /^\{(\d+)\+?\}\r\n/.exec(text.slice(pos));
      if (!m) throw new SectionSyntaxError('bad literal in header list');
      pos += m[0].length;
      const n = Number(m[1]);
      if (pos + n > text.length) throw new SectionSyntaxError('short literal in header list');
      fields.push(text.slice(pos, pos + n));
      pos += n;
    } else if (ATOM_CHAR.test(c)) {
      const from = pos;
      while (pos < text.length && ATOM_CHAR.test(text[pos])) pos++;
      fields.push(text.slice(from, pos));
    } else {
      throw new SectionSyntaxError(`unexpected "${c}" in header list`);
    }
  }
  if (fields.length === 0) throw new SectionSyntaxError('empty header list');
  if (text.slice(pos).trim() !== '') throw new SectionSyntaxError('junk after header list');
  return fields;
}

/** Parses the text between `[` and `]`, e.g. `1.2.HEADER.FIELDS (From To)` (§9 section-spec). */
export function parseSection(spec: string): SectionSpec {
  const result: SectionSpec = { part: [] };
  let rest = spec;
  // section-part: nz-number *("." nz-number)
  for (;;) {
    const m = /^(\d+)(\.|$)/.exec(rest);
    if (!m) break;
    if (!/^[1-9]\d*$/.test(m[1]) || m[1].length > 9) throw new SectionSyntaxError(`bad part number "${m[1]}"`);
    result.part.push(Number(m[1]));
    rest = rest.slice(m[0].length);
    if (m[2] === '') return result;
  }
  if (rest === '') {
    if (result.part.length > 0) throw new SectionSyntaxError('section ends with "."');
    return result;
  }
  const m = /^(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)(?=$|[ (])/i.exec(rest);
  if (!m) throw new SectionSyntaxError(`unknown section text "${rest.slice(0, 40)}"`);
  const text = m[1].toUpperCase() as NonNullable<SectionSpec['text']>;
  if (text === 'MIME' && result.part.length === 0) throw new SectionSyntaxError('MIME needs a part number');
  result.text = text;
  rest = rest.slice(m[0].length);
  if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
    if (!rest.startsWith(' ')) throw new SectionSyntaxError(`${text} needs a header list`);
    result.fields = parseFieldList(rest.slice(1));
  } else if (rest !== '') {
    throw new SectionSyntaxError(`junk after ${text}`);
  }
  return result;
}

/**
 * The part a numeric path names, or null when there is no such part. A non-multipart entity only
 * has part 1 (itself), and only as the last number unless it is message/rfc822, whose following
 * numbers address the encapsulated message (the rules IMAP servers such as Dovecot apply).
 */
export function findPart(root: MimePart, path: number[]): MimePart | null {
  let cur: MimePart = root;
  for (let i = 0; i < path.length; i++) {
    const n = path[i];
    const last = i === path.length - 1;
    if (cur.parts) {
      const child = cur.parts[n - 1];
      if (!child) return null;
      cur = child;
    } else if (n !== 1 || (!last && !cur.message)) {
      return null;
    }
    if (!last && cur.message) cur = cur.message.body;
  }
  return cur;
}

const CRLF = Buffer.from('\r\n');

/**
 * HEADER.FIELDS / HEADER.FIELDS.NOT: the matching field lines in message order, then the header's
 * empty line as the message has it (CRLF or bare LF). A header without an empty line (a message
 * with no body) gets none: "the blank line is included in all header fetches, except in the case
 * of a message which has no body and no blank line" (§6.4.5).
 */
function headerFields(raw: Buffer, entity: MimePart, names: string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  const fields = readHeaderFields(raw, entity.headerStart, entity.bodyStart);
  for (const field of fields) {
    // A line without a colon (empty key) is never a requested field, so only .NOT keeps it.
    const selected = field.key !== '' && wanted.has(field.key);
    if (selected === not) continue;
    out.push(raw.subarray(field.start, field.end));
    if (raw[field.end - 1] !== 0x0a) out.push(CRLF);
  }
  const lastEnd = fields.length > 0 ? fields[fields.length - 1].end : entity.headerStart;
  const blank = raw.subarray(lastEnd, entity.bodyStart);
  if (blank.length > 0) out.push(blank.length <= 2 && blank[blank.length - 1] === 0x0a ? blank : CRLF);
  return Buffer.concat(out);
}

/**
 * The exact bytes of a section (§6.4.5). A section naming a part that does not exist, or a
 * HEADER/TEXT after a part that is not message/rfc822, gives an empty buffer.
 */
export function extractSection(raw: Buffer, index: MessageIndex, section: SectionSpec): Buffer {
  const root = index.body;
  const limit = (start: number, end: number): Buffer => {
    const s = Math.max(0, Math.min(start, raw.length));
    const e = Math.max(s, Math.min(end, raw.length));
    return raw.subarray(s, e);
  };
  if (section.part.length === 0) {
    switch (section.text) {
      case undefined:
        return raw;
      case 'HEADER':
        return limit(root.headerStart, root.bodyStart);
      case 'TEXT':
        return limit(root.bodyStart, raw.length);
      case 'HEADER.FIELDS':
      case 'HEADER.FIELDS.NOT':
        return headerFields(raw, root, section.fields ?? [], section.text === 'HEADER.FIELDS.NOT');
      default:
        return Buffer.alloc(0);
    }
  }
  const part = findPart(root, section.part);
  if (!part) return Buffer.alloc(0);
  switch (section.text) {
    case undefined:
      return limit(part.bodyStart, part.bodyEnd);
    case 'MIME':
      return limit(part.headerStart, part.bodyStart);
    default: {
      if (!part.message) return Buffer.alloc(0);
      const inner = part.message.body;
      if (section.text === 'HEADER') return limit(inner.headerStart, inner.bodyStart);
      if (section.text === 'TEXT') return limit(inner.bodyStart, part.bodyEnd);
      return headerFields(raw, inner, section.fields ?? [], section.text === 'HEADER.FIELDS.NOT');
    }
  }
}

/** `<origin.length>` (§6.4.5): the bytes from origin, at most length of them; empty past the end. */
export function partial(bytes: Buffer, origin: number, length?: number): Buffer {
  if (origin >= bytes.length || origin < 0) return Buffer.alloc(0);
  const end = length === undefined ? bytes.length : Math.min(bytes.length, origin + Math.max(0, length));
  return bytes.subarray(origin, end);
}
