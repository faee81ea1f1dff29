/**
 * mbox files as mutt, Thunderbird, Dovecot and Pine write and read them (RFC 4155; the quoting is
 * "mboxrd"): each message starts with a `From SENDER DATE` line; a body line that starts with `From `
 * after any number of `>` gets one more `>`, and a reader takes one away, so any message comes back
 * exactly. Flags travel in the header fields the mbox readers share: `Status:` (R read, O old),
 * `X-Status:` (A answered, F flagged, T draft, D deleted) and `X-Keywords:` (Dovecot's, space-separated);
 * Thunderbird's `X-Mozilla-Status`/`X-Mozilla-Keys` are read too.
 *
 * What hotbridge adds to a message on export (the flag fields and `X-Hotbridge-Export: length=N`) goes at
 * the top of its header, and the import takes exactly that off again, so a message leaves and comes back
 * byte for byte — even one without a final line break, or with `Status:` fields of its own.
 */

/** The header field that marks what hotbridge added on export, with the length of the message itself. */
const EXPORT_MARK = 'X-Hotbridge-Export';
/** Added fields, in the order written; the mark comes last, so the import knows where they end. */
const ADDED_FIELDS = ['status', 'x-status', 'x-keywords'];

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The date of a `From ` line: C's asctime() form, in UTC ("Sat Jan  3 01:05:34 1996"). */
export function fromLineDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => n.toString().padStart(2, '0');
  return `${WEEKDAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate().toString().padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** Reads the date of a `From ` line (asctime, optionally with a zone before the year), as UTC. */
export function parseFromLineDate(text: string): number | undefined {
  const match =
    /(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([+-]\d{4}|[A-Z]{2,5})\s+)?(\d{4})/.exec(text);
  if (!match) return undefined;
  const month = MONTHS.indexOf(match[1][0].toUpperCase() + match[1].slice(1).toLowerCase());
  if (month < 0) return undefined;
  let ms = Date.UTC(Number(match[7]), month, Number(match[2]), Number(match[3]), Number(match[4]), Number(match[5] ?? 0));
  const zone = match[6];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const minutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3));
    ms -= (zone[0] === '+' ? 1 : -1) * minutes * 60_000;
  }
  return Number.isFinite(ms) ? ms : undefined;
}

/** The `Status`/`X-Status`/`X-Keywords` values for a message's flags. */
export function mboxFlagFields(flags: readonly string[]): Array<[name: string, value: string]> {
  const lower = new Set(flags.map((flag) => flag.toLowerCase()));
  const status = (lower.has('\\seen') ? 'R' : '') + 'O';
  let xStatus = '';
  if (lower.has('\\answered')) xStatus += 'A';
  if (lower.has('\\flagged')) xStatus += 'F';
  if (lower.has('\\draft')) xStatus += 'T';
  if (lower.has('\\deleted')) xStatus += 'D';
  const keywords = flags.filter((flag) => !flag.startsWith('\\'));
  const fields: Array<[string, string]> = [['Status', status]];
  if (xStatus) fields.push(['X-Status', xStatus]);
  if (keywords.length > 0) fields.push(['X-Keywords', keywords.join(' ')]);
  return fields;
}

/** The line break a message uses (that of its first line), so that the added fields match it. */
function lineBreakOf(raw: Buffer): string {
  const lf = raw.indexOf(0x0a);
  return lf > 0 && raw[lf - 1] === 0x0d ? '\r\n' : '\n';
}

/** A `From ` line needs quoting when it starts with any number of ">" and then "From ". */
function needsQuote(raw: Buffer, start: number): boolean {
  let i = start;
  while (i < raw.length && raw[i] === 0x3e) i++;
  return raw.length - i >= 5 && raw[i] === 0x46 && raw[i + 1] === 0x72 && raw[i + 2] === 0x6f && raw[i + 3] === 0x6d && raw[i + 4] === 0x20;
}

/** One message as an mbox entry: From line, added fields, the quoted message, and the blank line after it. */
export function encodeMboxEntry(raw: Buffer, options: { flags: readonly string[]; internalDate: number; sender?: string }): Buffer {
  const eol = lineBreakOf(raw);
  const sender = options.sender && /^[^\s]+$/.test(options.sender) ? options.sender : 'MAILER-DAEMON';
  const head = [`From ${sender} ${fromLineDate(options.internalDate)}\n`];
  for (const [name, value] of mboxFlagFields(options.flags)) head.push(`${name}: ${value}${eol}`);
  head.push(`${EXPORT_MARK}: length=${raw.length}${eol}`);
  const parts: Buffer[] = [Buffer.from(head.join(''), 'latin1')];
  let lineStart = 0;
  let copiedTo = 0;
  while (lineStart < raw.length) {
    if (needsQuote(raw, lineStart)) {
      parts.push(raw.subarray(copiedTo, lineStart), Buffer.from('>'));
      copiedTo = lineStart;
    }
    const lf = raw.indexOf(0x0a, lineStart);
    if (lf < 0) break;
    lineStart = lf + 1;
  }
  parts.push(raw.subarray(copiedTo));
  // The entry ends with a line break (added when the message has none) and one empty line.
  parts.push(Buffer.from(raw.length > 0 && raw[raw.length - 1] === 0x0a ? '\n' : '\n\n'));
  return Buffer.concat(parts);
}

/** A message read from an mbox file. */
export interface MboxMessage {
  raw: Buffer;
  flags: string[];
  /** From the `From ` line; undefined when it has no readable date. */
  internalDate?: number;
}

/**
 * Splits an mbox file into messages as its bytes arrive: `push` chunks, then `end`. A message begins at a
 * `From ` line at the start of the file or after an empty line (RFC 4155 §2). Holds one message at a time.
 */
export class MboxSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private lines: Buffer[] = [];
  private fromLine?: string;
  private previousEmpty = true;

  /** Feeds bytes; returns the messages completed by them. */
  push(chunk: Buffer): MboxMessage[] {
    const out: MboxMessage[] = [];
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const lf = data.indexOf(0x0a, start);
      if (lf < 0) break;
      this.line(data.subarray(start, lf + 1), out);
      start = lf + 1;
    }
    data = data.subarray(start);
    // Copied, so the chunk the caller passed in can be released.
    this.pending = Buffer.from(data);
    return out;
  }

  /** The last message (the file may end without a line break). */
  end(): MboxMessage[] {
    const out: MboxMessage[] = [];
    if (this.pending.length > 0) this.line(this.pending, out);
    this.pending = Buffer.alloc(0);
    const last = this.finish();
    if (last) out.push(last);
    return out;
  }

  private line(line: Buffer, out: MboxMessage[]): void {
    const isFrom = this.previousEmpty && line.length >= 5 && line.toString('latin1', 0, 5) === 'From ';
    if (isFrom) {
      const done = this.finish();
      if (done) out.push(done);
      this.fromLine = line.toString('latin1').replace(/\r?\n$/, '');
      this.previousEmpty = false;
      return;
    }
    this.previousEmpty = line.length === 1 || (line.length === 2 && line[0] === 0x0d);
    // Text before the first From line is not a message (some tools write a preamble); it is dropped.
    if (this.fromLine !== undefined) this.lines.push(Buffer.from(line));
  }

  private finish(): MboxMessage | undefined {
    if (this.fromLine === undefined) return undefined;
    const message = decodeMboxEntry(this.fromLine, this.lines);
    this.fromLine = undefined;
    this.lines = [];
    return message;
  }
}

/** A message from its From line and the lines after it (still quoted, with the blank line that ends it). */
function decodeMboxEntry(fromLine: string, lines: Buffer[]): MboxMessage {
  const internalDate = parseFromLineDate(fromLine.slice(5));
  let added: Array<[string, string]> = [];
  let length: number | undefined;
  // What hotbridge added: a few known fields at the top, ending with the mark.
  for (let i = 0; i < Math.min(lines.length, ADDED_FIELDS.length + 1); i++) {
    const field = /^([A-Za-z-]+): ?(.*?)\r?\n$/.exec(lines[i].toString('latin1'));
    if (!field) break;
    if (field[1].toLowerCase() === EXPORT_MARK.toLowerCase()) {
      const stated = /length=(\d+)/.exec(field[2]);
      if (stated) {
        length = Number(stated[1]);
        added = lines
          .slice(0, i)
          .map((l) => /^([A-Za-z-]+): ?(.*?)\r?\n$/.exec(l.toString('latin1')))
          .map((m) => [m![1], m![2]]);
        lines = lines.slice(i + 1);
      }
      break;
    }
    if (!ADDED_FIELDS.includes(field[1].toLowerCase())) break;
  }
  const body = Buffer.concat(lines.map(unquote));
  let raw: Buffer;
  if (length !== undefined && length <= body.length) {
    raw = body.subarray(0, length);
  } else {
    // The empty line that separates it from the next message is not part of the message.
    const n = body.length;
    if (n >= 4 && body.toString('latin1', n - 4) === '\r\n\r\n') raw = body.subarray(0, n - 2);
    else if (n >= 2 && body[n - 1] === 0x0a && body[n - 2] === 0x0a) raw = body.subarray(0, n - 1);
    else raw = body;
  }
  const flags = length !== undefined ? flagsFromFields(added) : flagsFromFields(headerFields(raw));
  return { raw: Buffer.from(raw), flags, ...(internalDate !== undefined ? { internalDate } : {}) };
}

/** Takes one ">" off a quoted From line (mboxrd). */
function unquote(line: Buffer): Buffer {
  if (line[0] !== 0x3e) return line;
  let i = 0;
  while (i < line.length && line[i] === 0x3e) i++;
  return line.toString('latin1', i, i + 5) === 'From ' ? line.subarray(1) : line;
}

/** The unfolded fields of a message's header (only those the flags come from are of interest). */
function headerFields(raw: Buffer): Array<[string, string]> {
  const ends = [raw.indexOf('\n\n'), raw.indexOf('\r\n\r\n')].filter((i) => i >= 0);
  const end = ends.length > 0 ? Math.min(...ends) : raw.length;
  const fields: Array<[string, string]> = [];
  for (const line of raw.toString('latin1', 0, end).split(/\r?\n(?![ \t])/)) {
    const match = /^([A-Za-z-]+):\s*([\s\S]*)$/.exec(line);
    if (match && /^(status|x-status|x-keywords|x-mozilla-status|x-mozilla-keys)$/i.test(match[1]))
      fields.push([match[1], match[2].replace(/\r?\n[ \t]+/g, ' ').trim()]);
  }
  return fields;
}

/** Flags from the mbox flag fields (mutt's, Dovecot's and Thunderbird's). */
function flagsFromFields(fields: ReadonlyArray<[string, string]>): string[] {
  const flags = new Set<string>();
  for (const [name, value] of fields) {
    switch (name.toLowerCase()) {
      case 'status':
        if (value.includes('R')) flags.add('\\Seen');
        break;
      case 'x-status':
        if (value.includes('A')) flags.add('\\Answered');
        if (value.includes('F')) flags.add('\\Flagged');
        if (value.includes('T')) flags.add('\\Draft');
        if (value.includes('D')) flags.add('\\Deleted');
        break;
      case 'x-keywords':
      case 'x-mozilla-keys':
        for (const keyword of value.split(/[\s,]+/)) if (keyword && !keyword.startsWith('\\')) flags.add(keyword);
        break;
      case 'x-mozilla-status': {
        // Thunderbird's nsMsgMessageFlags: 0x1 read, 0x2 replied, 0x4 marked (flagged), 0x8 expunged.
        const bits = parseInt(value, 16);
        if (!Number.isFinite(bits)) break;
        if (bits & 0x1) flags.add('\\Seen');
        if (bits & 0x2) flags.add('\\Answered');
        if (bits & 0x4) flags.add('\\Flagged');
        if (bits & 0x8) flags.add('\\Deleted');
        break;
      }
    }
  }
  return [...flags];
}
