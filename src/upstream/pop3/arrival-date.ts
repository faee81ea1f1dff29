/**
 * The INTERNALDATE for a message fetched over POP3. POP3 carries no arrival time (RFC 1939 has none), and
 * a first sync would otherwise date a mailbox of ten years "today", so clients that sort by arrival would
 * show it in one heap. The provider's own arrival time is the date of the topmost Received field
 * (RFC 5321 §4.4: each relay prepends one, ending in "; date-time"); failing that, the Date field.
 */

/** Headers longer than this are not worth scanning for a date. */
const HEADER_SCAN_LIMIT = 64 * 1024;
/** Mail from before this is a broken clock, not an arrival time. */
const EARLIEST = Date.UTC(1990, 0, 1);
/** A date further ahead than this is a wrong clock at the sender, not an arrival time. */
const FUTURE_SLACK_MS = 24 * 60 * 60 * 1000;

/** The arrival time in ms since the epoch, or undefined when the header holds no plausible date. */
export function arrivalDateOf(raw: Buffer, now: number): number | undefined {
  const fields = headerFields(raw);
  const received = fields.find((field) => field.name === 'received');
  const candidates = [received?.value.slice(received.value.lastIndexOf(';') + 1), fields.find((field) => field.name === 'date')?.value];
  for (const text of candidates) {
    if (text === undefined) continue;
    const time = parseDate(text);
    if (time !== undefined && time >= EARLIEST && time <= now + FUTURE_SLACK_MS) return time;
  }
  return undefined;
}

interface HeaderField {
  name: string;
  value: string;
}

/** Header fields in order, unfolded (RFC 5322 §2.2.3). Header text only: the body is never decoded. */
function headerFields(raw: Buffer): HeaderField[] {
  const scan = raw.subarray(0, HEADER_SCAN_LIMIT);
  const crlfEnd = scan.indexOf('\r\n\r\n');
  const lfEnd = scan.indexOf('\n\n');
  const ends = [crlfEnd, lfEnd].filter((end) => end >= 0);
  const end = ends.length > 0 ? Math.min(...ends) : scan.length;
  const text = scan
    .subarray(0, end)
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  const fields: HeaderField[] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/** An RFC 5322 §3.3 date-time, with comments such as "(UTC)" removed. */
function parseDate(text: string): number | undefined {
  const cleaned = text
    .replace(/\([^()]*\)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (cleaned === '') return undefined;
  const time = Date.parse(cleaned);
  return Number.isFinite(time) ? time : undefined;
}
