/**
 * Structured MIME header values: Content-Type and Content-Disposition with their parameters
 * (RFC 2045 §5.1, RFC 2183), parameter continuations and charset/language tags (RFC 2231), and
 * the small lists of Content-Language (RFC 3282).
 *
 * Parameters are kept in the form IMAP sends them (RFC 2231 §... "IMAP4 servers SHOULD decode
 * parameter value continuations when generating the BODY and BODYSTRUCTURE fetch attributes"):
 * continuations are joined, but an extended value keeps its `charset'lang'%xx` form under the key
 * `name*`, because an IMAP string cannot say which charset it is in. Decoded values are available
 * separately through {@link decodeParamValue}.
 */
import { isUtf8 } from 'node:buffer';
import { decodeCharset, decodeEncodedWords } from './encoded-words.js';

/** One parameter as `[name, value]`; values are binary strings (one char per byte). */
export type MimeParam = [string, string];

/** A parsed `type/subtype; params` or `disposition; params` value. */
export interface StructuredValue {
  /** The part before the first `;` (e.g. `text/plain` or `attachment`), as written. */
  value: string;
  params: MimeParam[];
}

const TSPECIALS = '()<>@,;:\\"/[]?=';

/** A cursor over a header value that skips RFC 5322 comments and white space. */
class ValueReader {
  pos = 0;
  constructor(readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Skips blanks, line breaks and (nested) comments (RFC 5322 §3.2.2 CFWS). */
  skipCfws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.pos++;
      } else if (c === '(') {
        let depth = 0;
        while (this.pos < t.length) {
          const d = t[this.pos];
          if (d === '\\') this.pos++;
          else if (d === '(') depth++;
          else if (d === ')' && --depth === 0) {
            this.pos++;
            break;
          }
          this.pos++;
        }
      } else break;
    }
  }

  /** A MIME token (RFC 2045 §5.1): anything but controls, space and tspecials. */
  token(): string {
    const t = this.text;
    const from = this.pos;
    while (this.pos < t.length) {
      const code = t.charCodeAt(this.pos);
      if (code <= 0x20 || code === 0x7f || TSPECIALS.includes(t[this.pos])) break;
      this.pos++;
    }
    return t.slice(from, this.pos);
  }

  /** A quoted string without its quotes, quoted-pairs resolved and folding removed. */
  quoted(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    while (this.pos < t.length) {
      const c = t[this.pos++];
      if (c === '"') return out;
      if (c === '\\' && this.pos < t.length) out += t[this.pos++];
      else if (c !== '\r' && c !== '\n') out += c;
    }
    return out;
  }

  /** A parameter value: quoted string, or (leniently) everything up to the next `;` or blank. */
  paramValue(): string {
    if (this.peek() === '"') return this.quoted();
    const t = this.text;
    const from = this.pos;
    while (this.pos < t.length && !';\r\n\t '.includes(t[this.pos])) this.pos++;
    return t.slice(from, this.pos);
  }
}

/** Reads `; name=value` pairs until the end; broken pairs are skipped, as lenient readers do. */
function readParams(reader: ValueReader): MimeParam[] {
  const params: MimeParam[] = [];
  while (!reader.atEnd()) {
    reader.skipCfws();
    if (reader.peek() !== ';') {
      // Junk between parameters: skip to the next separator.
      while (!reader.atEnd() && reader.peek() !== ';') reader.pos++;
      continue;
    }
    reader.pos++;
    reader.skipCfws();
    const name = reader.token();
    reader.skipCfws();
    if (name === '' || reader.peek() !== '=') continue;
    reader.pos++;
    reader.skipCfws();
    const value = reader.paramValue();
    params.push([name, value]);
  }
  return joinContinuations(params);
}

/**
 * Parses `Content-Type: type/subtype; params`. Returns null when there is no `type/subtype`
 * (RFC 2045 §5.2: such a field is treated as absent and the default applies).
 */
export function parseContentType(raw: string): { type: string; subtype: string; params: MimeParam[] } | null {
  const reader = new ValueReader(raw);
  reader.skipCfws();
  const type = reader.token();
  reader.skipCfws();
  if (type === '' || reader.peek() !== '/') return null;
  reader.pos++;
  reader.skipCfws();
  const subtype = reader.token();
  if (subtype === '') return null;
  return { type, subtype, params: readParams(reader) };
}

/** Parses `Content-Disposition: type; params` (RFC 2183). */
export function parseDisposition(raw: string): StructuredValue | null {
  const reader = new ValueReader(raw);
  reader.skipCfws();
  const value = reader.token();
  if (value === '') return null;
  return { value, params: readParams(reader) };
}

/** Parses `Content-Language: en, de` into its tags (RFC 3282). */
export function parseLanguageList(raw: string): string[] {
  // Language-List = Language-Tag *("," Language-Tag); reading stops at the first thing that is not.
  const reader = new ValueReader(raw);
  const tags: string[] = [];
  for (;;) {
    reader.skipCfws();
    const tag = reader.token();
    if (tag === '') break;
    tags.push(tag);
    reader.skipCfws();
    if (reader.peek() !== ',') break;
    reader.pos++;
  }
  return tags;
}

/**
 * Reads a value that must be one token, e.g. Content-Transfer-Encoding (RFC 2045 §6.1); anything
 * after the token but comments and blanks makes the value invalid (''), as in Dovecot.
 */
export function soleToken(raw: string): string {
  const reader = new ValueReader(raw);
  reader.skipCfws();
  const token = reader.token();
  reader.skipCfws();
  return reader.atEnd() ? token : '';
}

interface Segment {
  name: string;
  index: number;
  extended: boolean;
  value: string;
}

const SEGMENT_KEY = /^([^*]+)\*(?:(\d+)\*?)?$/;

/**
 * Joins RFC 2231 §3 continuations (`name*0`, `name*1*`, ...). Plain parameters come first in their
 * order, joined ones after them sorted by name. A set with gaps in its numbering is left as it was.
 */
function joinContinuations(params: MimeParam[]): MimeParam[] {
  const plain: MimeParam[] = [];
  const segments: Segment[] = [];
  for (const [name, value] of params) {
    const m = SEGMENT_KEY.exec(name);
    if (!m) {
      plain.push([name, value]);
      continue;
    }
    const index = m[2] === undefined ? 0 : Number(m[2]);
    segments.push({ name: m[1], index, extended: m[2] === undefined || name.endsWith('*'), value });
  }
  if (segments.length === 0) return plain;
  segments.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index));
  let i = 0;
  while (i < segments.length) {
    let j = i;
    const lname = segments[i].name.toLowerCase();
    while (j < segments.length && segments[j].name.toLowerCase() === lname) j++;
    const group = segments.slice(i, j);
    const complete = group.every((s, k) => s.index === k);
    if (!complete) {
      for (const s of group) plain.push([`${s.name}*${s.index}${s.extended ? '*' : ''}`, s.value]);
    } else {
      const extended = group.some((s) => s.extended);
      // Without its own charset'lang' prefix the value is read as having an empty one; plain
      // segments joined to extended ones must have their '%' escaped (RFC 2231 §4).
      let value = extended && !group[0].extended ? "''" : '';
      for (const s of group) value += extended && !s.extended ? s.value.replace(/%/g, '%25') : s.value;
      plain.push([extended ? `${group[0].name}*` : group[0].name, value]);
    }
    i = j;
  }
  return plain;
}

/**
 * The human value of a parameter: `name*` values are percent-decoded in their declared charset
 * (RFC 2231 §4), and plain values holding RFC 2047 encoded words (common in filename=) are decoded
 * too. Returns the parameter name without the `*`.
 */
export function decodeParam([name, value]: MimeParam): MimeParam {
  if (name.endsWith('*')) {
    const m = /^([^']*)'[^']*'(.*)$/s.exec(value);
    const charset = m ? m[1] || 'us-ascii' : 'us-ascii';
    const encoded = m ? m[2] : value;
    const bytes = Buffer.from(
      encoded.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    );
    return [name.slice(0, -1), decodeCharset(bytes, charset)];
  }
  return [name, decodeHeaderText(value)];
}

/**
 * Turns a raw (binary string) header value into readable text: 8-bit bytes are read as UTF-8
 * (RFC 6532) or, when they are not valid UTF-8, as latin1; then RFC 2047 encoded words are decoded.
 */
export function decodeHeaderText(binary: string): string {
  let text = binary;
  // eslint-disable-next-line no-control-regex -- "not ASCII" is the range from NUL
  if (/[^\x00-\x7f]/.test(binary)) {
    const bytes = Buffer.from(binary, 'latin1');
    text = isUtf8(bytes) ? bytes.toString('utf8') : binary;
  }
  return decodeEncodedWords(text);
}
