/**
 * The message index: everything IMAP needs to answer FETCH ENVELOPE/BODY/BODYSTRUCTURE/BODY[section]
 * and SEARCH without parsing the message again. `indexMessage` runs once at ingest; the result is
 * plain JSON stored in LevelDB next to the blob (ARCHITECTURE.md, `index` sublevel).
 */
import { decodeHeaderText, type MimeParam } from './content-params.js';
import { bytesToText, decodeTransferEncoding, htmlToText } from './body-text.js';
import { parseSentDate } from './sent-date.js';
import { envelopeOf, parseMessage, type Envelope, type MimePart } from './structure.js';
import { readHeaderFields, type RawHeaderField } from './raw-header.js';

export type { Envelope, MimePart } from './structure.js';
export type { AddressParts } from './address.js';
export { addressSearchText } from './address.js';
export type { MimeParam } from './content-params.js';

/** Bump when the shape or the meaning of a field changes: the store re-indexes older entries. */
export const MESSAGE_INDEX_VERSION = 1;

/** Decoded body text kept for SEARCH is cut at this many characters per message. */
export const MAX_SEARCH_TEXT = 256 * 1024;
/** Each decoded header value kept for SEARCH is cut at this many characters. */
const MAX_HEADER_VALUE = 8 * 1024;
/** All decoded header values of a message together are cut at this many characters. */
const MAX_HEADERS_TOTAL = 64 * 1024;

/** Everything known about one message's content; JSON-serializable. */
export interface MessageIndex {
  /** MESSAGE_INDEX_VERSION at the time of indexing. */
  version: number;
  /** Size of the raw message in octets (RFC822.SIZE). */
  size: number;
  /** Top-level envelope, raw values (see Envelope). */
  envelope: Envelope;
  /** The MIME tree with byte offsets; the root is the whole message. */
  body: MimePart;
  /** Date: header as an instant (ms since epoch), null when absent or unreadable. */
  sentTime: number | null;
  /** Date: header's calendar day (midnight UTC of the written date) for SENTON/SENTBEFORE/SENTSINCE. */
  sentDay: number | null;
  /**
   * Every top-level header field, in order, as `[lower-case name, value]` with the value unfolded,
   * RFC 2047-decoded, charset-converted and lower-cased (for HEADER/FROM/TO/CC/BCC/SUBJECT/TEXT).
   */
  headers: [string, string][];
  /**
   * Decoded text of the text/* parts (nested messages included, their headers too; of a
   * multipart/alternative only the text/plain alternative when there is one), HTML reduced to text,
   * lower-cased, line breaks as `\n`, cut at MAX_SEARCH_TEXT characters.
   */
  text: string;
  /** Set when `text` was cut at MAX_SEARCH_TEXT. */
  textTruncated?: boolean;
}

/** Decoded, lower-cased header values for search, within the size caps. */
function searchableHeaders(fields: RawHeaderField[]): [string, string][] {
  const out: [string, string][] = [];
  let total = 0;
  for (const f of fields) {
    if (total >= MAX_HEADERS_TOTAL) break;
    if (f.key === '') continue;
    // Cut before decoding too, so a megabyte-long header line costs no more than a normal one.
    let value = decodeHeaderText(
      f.value
        .slice(0, MAX_HEADER_VALUE * 2)
        .replace(/\r?\n/g, '')
        .trim(),
    ).toLowerCase();
    if (value.length > MAX_HEADER_VALUE) value = value.slice(0, MAX_HEADER_VALUE);
    total += value.length;
    out.push([f.key, value]);
  }
  return out;
}

function param(params: MimeParam[] | undefined, name: string): string | undefined {
  if (!params) return undefined;
  for (const [k, v] of params) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Collects the searchable body text of a part tree, up to the cap. */
class TextCollector {
  chunks: string[] = [];
  length = 0;
  truncated = false;

  constructor(private readonly raw: Buffer) {}

  add(text: string): void {
    if (this.truncated || text.length === 0) return;
    const room = MAX_SEARCH_TEXT - this.length;
    if (text.length > room) {
      text = text.slice(0, room);
      this.truncated = true;
    }
    this.chunks.push(text);
    this.length += text.length;
  }

  walk(part: MimePart): void {
    if (this.truncated) return;
    if (part.parts) {
      // The alternatives of multipart/alternative say the same thing (RFC 2046 §5.1.4): index the
      // plain-text one only, which halves the stored text of the usual text+HTML mail.
      const plain =
        part.subtype.toLowerCase() === 'alternative'
          ? part.parts.find((c) => !c.parts && c.type.toLowerCase() === 'text' && c.subtype.toLowerCase() === 'plain')
          : undefined;
      for (const child of plain ? [plain] : part.parts) this.walk(child);
      return;
    }
    if (part.message) {
      // The nested message's header is part of the outer message's body (RFC 3501 BODY key).
      const fields = parseMessageHeaderFields(this.raw, part.message.body);
      for (const [, value] of searchableHeaders(fields)) this.add(value + '\n');
      this.walk(part.message.body);
      return;
    }
    if (part.type.toLowerCase() !== 'text') return;
    const room = MAX_SEARCH_TEXT - this.length;
    // Never decode more encoded bytes than could fill the remaining room (QP expands at most 3x).
    const end = Math.min(part.bodyEnd, part.bodyStart + room * 4 + 4);
    const bytes = decodeTransferEncoding(this.raw.subarray(part.bodyStart, end), part.encoding);
    let text = bytesToText(bytes, param(part.params, 'charset'));
    if (part.subtype.toLowerCase() === 'html') text = htmlToText(text);
    if (text.length === 0) return;
    text = text.replace(/\r\n?/g, '\n').toLowerCase();
    this.add(text.endsWith('\n') ? text : text + '\n');
  }
}

function parseMessageHeaderFields(raw: Buffer, part: MimePart): RawHeaderField[] {
  return readHeaderFields(raw, part.headerStart, part.bodyStart);
}

/**
 * Parses a raw RFC 5322 message once into its index. Never throws: input that is not MIME, or is
 * broken MIME, degrades to a text/plain body (RFC 2045 §5.2).
 */
export function indexMessage(raw: Buffer): MessageIndex {
  const { root, fields } = parseMessage(raw);
  const dateField = fields.filter((f) => f.key === 'date').pop();
  const sent = dateField ? parseSentDate(dateField.value.replace(/\r?\n/g, '')) : null;
  const collector = new TextCollector(raw);
  collector.walk(root);
  const index: MessageIndex = {
    version: MESSAGE_INDEX_VERSION,
    size: raw.length,
    envelope: envelopeOf(fields),
    body: root,
    sentTime: sent ? sent.time : null,
    sentDay: sent ? sent.day : null,
    headers: searchableHeaders(fields),
    text: collector.chunks.join(''),
  };
  if (collector.truncated) index.textTruncated = true;
  return index;
}
