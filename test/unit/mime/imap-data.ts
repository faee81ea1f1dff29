/**
 * A small reader for IMAP response data (RFC 3501 §4, §7.4.2), only for tests: it turns our rendered
 * ENVELOPE/BODYSTRUCTURE and Dovecot's recorded FETCH responses into comparable trees.
 */

/** Parsed IMAP data: null for NIL, numbers, strings (quoted or literal, as bytes), atoms, lists. */
export type ImapValue = null | number | { str: Buffer } | { atom: string } | ImapValue[];

export class DataReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  private fail(what: string): never {
    throw new Error(`${what} at ${this.pos}: ${JSON.stringify(this.buf.toString('latin1', this.pos, this.pos + 40))}`);
  }

  expect(text: string): void {
    if (this.buf.toString('latin1', this.pos, this.pos + text.length) !== text) this.fail(`expected ${JSON.stringify(text)}`);
    this.pos += text.length;
  }

  skipSpaces(): void {
    while (this.buf[this.pos] === 0x20) this.pos++;
  }

  value(): ImapValue {
    const c = this.buf[this.pos];
    if (c === 0x28 /* ( */) {
      this.pos++;
      const items: ImapValue[] = [];
      for (;;) {
        this.skipSpaces();
        if (this.buf[this.pos] === 0x29) {
          this.pos++;
          return items;
        }
        if (this.pos >= this.buf.length) this.fail('unterminated list');
        items.push(this.value());
      }
    }
    if (c === 0x22 /* " */) {
      this.pos++;
      const bytes: number[] = [];
      while (this.pos < this.buf.length && this.buf[this.pos] !== 0x22) {
        if (this.buf[this.pos] === 0x5c) this.pos++;
        bytes.push(this.buf[this.pos++]);
      }
      this.expect('"');
      return { str: Buffer.from(bytes) };
    }
    if (c === 0x7b /* { */) {
      const close = this.buf.indexOf('}\r\n', this.pos, 'latin1');
      if (close < 0) this.fail('bad literal');
      const n = Number(this.buf.toString('latin1', this.pos + 1, close));
      const start = close + 3;
      this.pos = start + n;
      return { str: this.buf.subarray(start, start + n) };
    }
    const from = this.pos;
    while (this.pos < this.buf.length && !' ()\r\n'.includes(String.fromCharCode(this.buf[this.pos]))) this.pos++;
    const atom = this.buf.toString('latin1', from, this.pos);
    if (atom === '') this.fail('expected a value');
    if (atom.toUpperCase() === 'NIL') return null;
    if (/^\d+$/.test(atom)) return Number(atom);
    return { atom };
  }
}

/** One `* n FETCH (ITEM value)` response. */
export interface FetchItem {
  seq: number;
  item: string;
  value: ImapValue;
}

/** Reads a run of single-item FETCH responses, as make-dovecot-reference.sh records them. */
export function readFetchResponses(buf: Buffer): FetchItem[] {
  const r = new DataReader(buf);
  const out: FetchItem[] = [];
  while (r.pos < buf.length) {
    const head = /^\* (\d+) FETCH \(/.exec(buf.toString('latin1', r.pos, r.pos + 30));
    if (!head) throw new Error(`not a FETCH response at ${r.pos}`);
    r.pos += head[0].length;
    // The item name: up to the space outside brackets (BODY[HEADER.FIELDS (A B)]<0> has spaces inside).
    const from = r.pos;
    let depth = 0;
    while (r.pos < buf.length) {
      const ch = buf[r.pos];
      if (ch === 0x5b) depth++;
      else if (ch === 0x5d) depth--;
      else if (ch === 0x20 && depth === 0) break;
      r.pos++;
    }
    const item = buf.toString('latin1', from, r.pos);
    r.expect(' ');
    const value = r.value();
    r.expect(')\r\n');
    out.push({ seq: Number(head[1]), item, value });
  }
  return out;
}

/** Parses one rendered value (our ENVELOPE or BODYSTRUCTURE). */
export function readValue(buf: Buffer): ImapValue {
  const r = new DataReader(buf);
  const v = r.value();
  if (r.pos !== buf.length) throw new Error(`trailing bytes after value: ${buf.toString('latin1', r.pos)}`);
  return v;
}

/**
 * A plain JSON form for comparing: strings with white space runs collapsed and trimmed (envelope
 * values may be unfolded differently), atoms upper-cased, quoted vs literal no longer visible.
 */
export function normalize(v: ImapValue): unknown {
  if (v === null || typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map(normalize);
  if ('atom' in v) return { atom: v.atom.toUpperCase() };
  return v.str.toString('latin1').replace(/\s+/g, ' ').trim();
}
