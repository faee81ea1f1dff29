/**
 * The MIME tree of a message with exact byte offsets (RFC 2045, RFC 2046 §5.1). Parsing follows the
 * lenient rules mail servers agree on, so that our BODYSTRUCTURE and section bytes match Dovecot's:
 *  - a header block ends at the first empty line; lines without a colon are still header lines;
 *  - a boundary line is a line starting with `--` + a boundary of any enclosing multipart (the
 *    longest match wins, RFC 2046 §5.1.1 only asks for a prefix match); it also ends a header
 *    block early, and it ends every part nested deeper than the multipart it belongs to;
 *  - the line break before a boundary line belongs to the boundary (RFC 2046 §5.1.1);
 *  - a multipart without a usable boundary has no children;
 *  - message/rfc822 bodies are parsed as messages (RFC 2046 §5.2.1), parts of multipart/digest
 *    default to message/rfc822 (§5.1.5), everything else defaults to text/plain; charset=us-ascii.
 * Nothing here throws on malformed input.
 */
import { soleToken, parseContentType, parseDisposition, parseLanguageList, type MimeParam } from './content-params.js';
import { parseAddressList, type AddressParts } from './address.js';
import { isBlankLineAt, lineEndAfter, newlineLengthAt, readHeaderFields, unfold, type RawHeaderField } from './raw-header.js';

/**
 * The envelope of a message (RFC 3501 §7.4.2), as raw header values: unfolded and trimmed but not
 * decoded. Strings are binary strings (one char per byte). An absent member means NIL; the
 * sender/reply-to defaults are applied when rendering.
 */
export interface Envelope {
  date?: string;
  subject?: string;
  from?: AddressParts[];
  sender?: AddressParts[];
  replyTo?: AddressParts[];
  to?: AddressParts[];
  cc?: AddressParts[];
  bcc?: AddressParts[];
  inReplyTo?: string;
  messageId?: string;
}

/**
 * One MIME entity. Offsets are absolute in the raw message: the header is
 * [headerStart, bodyStart) including its empty line, the body is [bodyStart, bodyEnd).
 * String fields are binary strings (one char per byte) as written in the header; an absent
 * optional field means NIL in BODYSTRUCTURE.
 */
export interface MimePart {
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
  /** Media type and subtype as written (case kept, as IMAP servers send them). */
  type: string;
  subtype: string;
  /** Content-Type parameters with RFC 2231 continuations joined; see content-params.ts. */
  params?: MimeParam[];
  id?: string;
  description?: string;
  /** Content-Transfer-Encoding token as written; absent means 7bit. */
  encoding?: string;
  md5?: string;
  disposition?: { type: string; params?: MimeParam[] };
  language?: string[];
  location?: string;
  /** Lines in the body (LF count), for text/* and message/rfc822 parts only (RFC 3501 §7.4.2). */
  lines?: number;
  /** Children of a multipart (possibly empty for a broken one). */
  parts?: MimePart[];
  /** The encapsulated message of a message/rfc822 part. */
  message?: { envelope: Envelope; body: MimePart };
}

/** Deeper nesting than this is indexed as opaque leaves (Dovecot uses the same limit). */
const MAX_DEPTH = 100;
/** Parts beyond this many in one message are not indexed (their bytes stay in the parent), keeping the index small. */
const MAX_PARTS = 5000;

interface BoundaryHit {
  lineStart: number;
  lineEnd: number;
  /** Position in the boundary stack of the multipart the line belongs to. */
  level: number;
  close: boolean;
}

interface ParseContext {
  raw: Buffer;
  stack: Buffer[];
  parts: number;
}

const DASH = 0x2d;
const NL_DASH_DASH = Buffer.from('\n--', 'latin1');

/** The boundary (longest match in the stack) of the line starting at `pos`, if it is a boundary line. */
function boundaryAt(ctx: ParseContext, pos: number): BoundaryHit | null {
  const { raw, stack } = ctx;
  if (raw[pos] !== DASH || raw[pos + 1] !== DASH) return null;
  const from = pos + 2;
  const lineEnd = lineEndAfter(raw, pos, raw.length);
  let best = -1;
  for (let level = 0; level < stack.length; level++) {
    const b = stack[level];
    if (from + b.length > lineEnd) continue;
    if (best >= 0 && stack[best].length >= b.length) continue;
    if (raw.compare(b, 0, b.length, from, from + b.length) === 0) best = level;
  }
  if (best < 0) return null;
  const after = from + stack[best].length;
  const close = after + 1 < lineEnd + 1 && raw[after] === DASH && raw[after + 1] === DASH;
  return { lineStart: pos, lineEnd, level: best, close };
}

/** The first boundary line at or after `pos` (which is at a line start). */
function nextBoundary(ctx: ParseContext, pos: number): BoundaryHit | null {
  if (ctx.stack.length === 0) return null;
  const first = boundaryAt(ctx, pos);
  if (first) return first;
  let search = pos;
  for (;;) {
    const i = ctx.raw.indexOf(NL_DASH_DASH, search);
    if (i < 0) return null;
    const hit = boundaryAt(ctx, i + 1);
    if (hit) return hit;
    search = i + 1;
  }
}

/** Where a body that is cut by a boundary line ends: before the line break preceding it. */
function endBefore(raw: Buffer, hit: BoundaryHit, floor: number): number {
  if (hit.lineStart <= floor) return floor;
  return hit.lineStart - newlineLengthAt(raw, hit.lineStart - 1, floor);
}

function countLines(raw: Buffer, start: number, end: number): number {
  let n = 0;
  let i = raw.indexOf(0x0a, start);
  while (i >= 0 && i < end) {
    n++;
    i = raw.indexOf(0x0a, i + 1);
  }
  return n;
}

function first(fields: RawHeaderField[], key: string): RawHeaderField | undefined {
  for (const f of fields) if (f.key === key) return f;
  return undefined;
}

function last(fields: RawHeaderField[], key: string): RawHeaderField | undefined {
  for (let i = fields.length - 1; i >= 0; i--) if (fields[i].key === key) return fields[i];
  return undefined;
}

/** Every occurrence of an address field, concatenated (what Dovecot does with repeated To: lines). */
function addresses(fields: RawHeaderField[], key: string): AddressParts[] | undefined {
  const list: AddressParts[] = [];
  for (const f of fields) if (f.key === key) list.push(...parseAddressList(f.value));
  return list.length > 0 ? list : undefined;
}

/**
 * The envelope fields of a header block (RFC 3501 §7.4.2). RFC 5322 §3.6 allows each of these
 * fields once; for broken messages that repeat one, the last text field wins and address fields are
 * joined, as Dovecot answers (our reference for such cases).
 */
export function envelopeOf(fields: RawHeaderField[]): Envelope {
  const env: Envelope = {};
  const text = (key: string): string | undefined => {
    const f = last(fields, key);
    return f ? unfold(f.value) : undefined;
  };
  const date = text('date');
  if (date !== undefined) env.date = date;
  const subject = text('subject');
  if (subject !== undefined) env.subject = subject;
  const set = (name: keyof Envelope, key: string): void => {
    const list = addresses(fields, key);
    if (list) (env as Record<string, unknown>)[name] = list;
  };
  set('from', 'from');
  set('sender', 'sender');
  set('replyTo', 'reply-to');
  set('to', 'to');
  set('cc', 'cc');
  set('bcc', 'bcc');
  const inReplyTo = text('in-reply-to');
  if (inReplyTo !== undefined) env.inReplyTo = inReplyTo;
  const messageId = text('message-id');
  if (messageId !== undefined) env.messageId = messageId;
  return env;
}

/** Header block scan: returns where the body starts, or the boundary line that cut the header. */
function scanHeader(ctx: ParseContext, start: number): { bodyStart: number; hit: BoundaryHit | null; headerEnd: number } {
  const { raw } = ctx;
  let pos = start;
  let lastNewline = 0;
  for (;;) {
    if (pos >= raw.length) return { bodyStart: raw.length, headerEnd: raw.length, hit: null };
    if (ctx.stack.length > 0) {
      const hit = boundaryAt(ctx, pos);
      if (hit) {
        // The line break before the boundary belongs to the boundary, not to this header.
        const headerEnd = pos - lastNewline;
        return { bodyStart: headerEnd, headerEnd, hit };
      }
    }
    if (isBlankLineAt(raw, pos, raw.length)) {
      const bodyStart = lineEndAfter(raw, pos, raw.length);
      return { bodyStart, headerEnd: bodyStart, hit: null };
    }
    const next = lineEndAfter(raw, pos, raw.length);
    lastNewline = raw[next - 1] === 0x0a ? newlineLengthAt(raw, next - 1, pos) : 0;
    pos = next;
  }
}

/** Fills the Content-* fields of a part from its header (RFC 2045 §5-8, RFC 2183, RFC 3282, RFC 2557). */
function describe(part: MimePart, fields: RawHeaderField[], inDigest: boolean, inMultipart: boolean): void {
  const ct = first(fields, 'content-type');
  // Content-* fields mean something only in a MIME entity (RFC 2045 §4): a part of a multipart, or
  // an entity with MIME-Version or, leniently, with a Content-Type (as Dovecot reads it). Elsewhere
  // a stray Content-Transfer-Encoding or Content-Disposition is ignored.
  const isMime = inMultipart || ct !== undefined || first(fields, 'mime-version') !== undefined;
  if (!isMime) {
    part.params = [['charset', 'us-ascii']];
    return;
  }
  const parsed = ct ? parseContentType(ct.value) : null;
  if (parsed) {
    part.type = parsed.type;
    part.subtype = parsed.subtype;
    if (parsed.params.length > 0) part.params = parsed.params;
  } else if (inDigest) {
    part.type = 'message';
    part.subtype = 'rfc822';
  }
  if (part.type.toLowerCase() === 'text' && !(part.params ?? []).some(([k]) => k.toLowerCase() === 'charset')) {
    // RFC 2045 §5.2 default, which IMAP servers spell out in BODYSTRUCTURE.
    part.params = [...(part.params ?? []), ['charset', 'us-ascii']];
  }
  const id = first(fields, 'content-id');
  if (id) part.id = unfold(id.value);
  const description = first(fields, 'content-description');
  if (description) part.description = unfold(description.value);
  const cte = first(fields, 'content-transfer-encoding');
  if (cte) {
    const token = soleToken(cte.value);
    if (token !== '') part.encoding = token;
  }
  const md5 = first(fields, 'content-md5');
  if (md5) part.md5 = unfold(md5.value);
  const disposition = first(fields, 'content-disposition');
  const parsedDisposition = disposition ? parseDisposition(disposition.value) : null;
  if (parsedDisposition) {
    part.disposition = { type: parsedDisposition.value };
    if (parsedDisposition.params.length > 0) part.disposition.params = parsedDisposition.params;
  }
  const language = first(fields, 'content-language');
  if (language) {
    const tags = parseLanguageList(language.value);
    if (tags.length > 0) part.language = tags;
  }
  const location = first(fields, 'content-location');
  if (location) part.location = unfold(location.value).replace(/[ \t]+/g, '');
}

interface Parsed {
  part: MimePart;
  fields: RawHeaderField[];
  /** The boundary line that ended this entity, or null when it ran to the end of the message. */
  hit: BoundaryHit | null;
}

/*
 * Where an entity ends: a leaf ends before the line break preceding the boundary line that cut it,
 * unless that boundary line is the first line scanned (then the line break belongs to whatever came
 * before: a header's empty line, or the previous boundary line). A multipart or message/rfc822 part
 * ends where its last piece ended. This is what keeps our sizes equal to Dovecot's.
 */

function parseEntity(ctx: ParseContext, start: number, depth: number, inDigest: boolean, inMultipart: boolean): Parsed {
  const { raw } = ctx;
  ctx.parts++;
  const header = scanHeader(ctx, start);
  const fields = readHeaderFields(raw, start, header.headerEnd);
  const part: MimePart = { headerStart: start, bodyStart: header.bodyStart, bodyEnd: header.bodyStart, type: 'text', subtype: 'plain' };
  describe(part, fields, inDigest, inMultipart);
  const type = part.type.toLowerCase();
  const subtype = part.subtype.toLowerCase();
  const isMessage = type === 'message' && subtype === 'rfc822';
  const opaque = depth >= MAX_DEPTH || ctx.parts > MAX_PARTS;

  if (header.hit) {
    if (type === 'multipart') part.parts = [];
    finishLeaf(ctx, part, type);
    if (isMessage) attachEmptyMessage(part);
    return { part, fields, hit: header.hit };
  }

  if (type === 'multipart' && !opaque) {
    part.parts = [];
    const boundaryParam = (part.params ?? []).find(([k]) => k.toLowerCase() === 'boundary');
    const ownLevel = ctx.stack.length;
    let open = false;
    if (boundaryParam && boundaryParam[1] !== '') {
      ctx.stack.push(Buffer.from(boundaryParam[1], 'latin1'));
      open = true;
    }
    let scanFrom = part.bodyStart;
    let hit = nextBoundary(ctx, scanFrom);
    let endedByChild = false;
    while (hit && open && hit.level === ownLevel) {
      ctx.stack.length = ownLevel + 1; // boundaries of parts skipped over are forgotten
      endedByChild = false;
      if (hit.close) {
        // Epilogue: only the enclosing multiparts' boundaries can end it.
        ctx.stack.length = ownLevel;
        scanFrom = hit.lineEnd;
        hit = hit.lineEnd >= raw.length ? null : nextBoundary(ctx, scanFrom);
        break;
      }
      if (ctx.parts >= MAX_PARTS) {
        // Enough parts: the rest of this multipart is skipped like an epilogue.
        ctx.stack.length = ownLevel;
        scanFrom = hit.lineStart;
        hit = nextBoundary(ctx, scanFrom);
        break;
      }
      if (hit.lineEnd >= raw.length && raw[raw.length - 1] !== 0x0a) {
        hit = null; // a boundary on the very last line, without a line break, starts nothing
        break;
      }
      const child = parseEntity(ctx, hit.lineEnd, depth + 1, subtype === 'digest', true);
      part.parts.push(child.part);
      hit = child.hit;
      endedByChild = true;
    }
    ctx.stack.length = ownLevel;
    if (!hit) part.bodyEnd = raw.length;
    else if (endedByChild) part.bodyEnd = part.parts[part.parts.length - 1].bodyEnd;
    else part.bodyEnd = endBefore(raw, hit, scanFrom);
    return { part, fields, hit };
  }

  if (isMessage && !opaque) {
    const inner = parseEntity(ctx, part.bodyStart, depth + 1, false, false);
    part.message = { envelope: envelopeOf(inner.fields), body: inner.part };
    part.bodyEnd = inner.hit ? inner.part.bodyEnd : raw.length;
    part.lines = countLines(raw, part.bodyStart, part.bodyEnd);
    return { part, fields, hit: inner.hit };
  }

  if (type === 'multipart') part.parts = [];
  const hit = nextBoundary(ctx, part.bodyStart);
  part.bodyEnd = hit ? endBefore(raw, hit, part.bodyStart) : raw.length;
  finishLeaf(ctx, part, type);
  if (isMessage) attachEmptyMessage(part);
  return { part, fields, hit };
}

function finishLeaf(ctx: ParseContext, part: MimePart, type: string): void {
  if (type === 'text' || (type === 'message' && part.subtype.toLowerCase() === 'rfc822')) {
    part.lines = countLines(ctx.raw, part.bodyStart, part.bodyEnd);
  }
}

/** A message/rfc822 part that could not be parsed still needs an envelope and body (RFC 3501 §9 body-type-msg). */
function attachEmptyMessage(part: MimePart): void {
  part.message = {
    envelope: {},
    body: {
      headerStart: part.bodyStart,
      bodyStart: part.bodyStart,
      bodyEnd: part.bodyStart,
      type: 'text',
      subtype: 'plain',
      params: [['charset', 'us-ascii']],
      lines: 0,
    },
  };
}

/** Parses a whole message: its root part and its header fields. */
export function parseMessage(raw: Buffer): { root: MimePart; fields: RawHeaderField[] } {
  const ctx: ParseContext = { raw, stack: [], parts: 0 };
  const parsed = parseEntity(ctx, 0, 0, false, false);
  return { root: parsed.part, fields: parsed.fields };
}
