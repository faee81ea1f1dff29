/**
 * Byte-level framing of POP3 server responses (RFC 1939 §3). TCP delivers the stream in arbitrary pieces, so a
 * line terminator may be split between two chunks; the reader keeps the chunks as they came and searches them
 * with `indexOf`, never re-joining the whole buffer per chunk (a multi-megabyte message stays linear).
 *
 * Message bytes never pass through a string: a multi-line body comes out as Buffers holding what the server
 * sent, with its CRLF line endings and 8-bit bytes, dot-unstuffing undone. Only status lines are decoded (UTF-8).
 *
 * Memory is bounded whatever the server sends: a status line is at most MAX_STATUS_LINE bytes, a line of a
 * collected body (a listing) too, and a body is at most its `limit` — past it the reader throws (code
 * TOO-LARGE) instead of reading on, so an endless answer costs no more than the limit. A streamed body (a
 * message, handed to a {@link BodySink} as it arrives) never gathers more than STREAM_CHUNK bytes here, however
 * long its lines are.
 */
import { Pop3Error, TOO_LARGE } from './errors.js';

/** Whether a response is one status line, or may carry a multi-line body after `+OK` (RFC 1939 §3). */
export type ResponseShape = 'single' | 'multi';

/** Where a streamed body goes, piece by piece, in order. */
export interface BodySink {
  /**
   * The next `bytes` bytes of the body (dot-unstuffing undone), as views of the socket's buffers: the sink
   * copies them where it wants them (joining them itself saves a copy). They are not valid after the call.
   */
  write(parts: readonly Buffer[], bytes: number): void;
}

/** One parsed server response. */
export interface Pop3Response {
  /** `+OK`, `-ERR`, or a SASL continuation `+` (RFC 5034 §4). */
  status: 'ok' | 'err' | 'continue';
  /** The status line after the indicator, without the separating space and CRLF. */
  text: string;
  /** For a multi-line `+OK` read without a sink: the body, dot-unstuffed, without the terminating `.` line. */
  body?: Buffer;
  /** For a multi-line `+OK`: the body's size in octets after unstuffing (also when it went to a sink). */
  size?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/**
 * RFC 2449 §4 limits a status line to 512 octets; real servers are longer now and then (a SASL challenge),
 * so this is generous, but still bounded: a server streaming garbage without a line break is a protocol error.
 * A line of a collected body (LIST, UIDL, CAPA) has the same bound.
 */
export const MAX_STATUS_LINE = 64 * 1024;

/** A streamed body goes to its sink in pieces of about this size (fewer, larger store writes). */
export const STREAM_CHUNK = 1024 * 1024;

/**
 * A streamed body line still without its LF is passed on once this much of it is buffered: its start has been
 * seen (so its dot is undone, and it cannot be the terminator), the rest is plain bytes.
 */
const STREAM_PARTIAL_LINE = 64 * 1024;

/** A response in progress: the status line said `+OK` to a multi-line command and the body is being read. */
interface BodyInProgress {
  text: string;
  limit: number;
  sink: BodySink | undefined;
  /** Body bytes not yet concatenated (views of the socket chunks). */
  parts: Buffer[];
  partBytes: number;
  /** Without a sink: the body so far, joined in pieces of about STREAM_CHUNK (a listing of a million short
   *  lines is not a million views). */
  collected: Buffer[];
  /** Body bytes so far, after unstuffing. */
  total: number;
}

/**
 * Accumulates raw chunks and hands out complete responses. The caller knows which command each response
 * answers and therefore its shape; it calls {@link read} with the same shape until a response comes out.
 */
export class Pop3ResponseReader {
  private chunks: Buffer[] = [];
  /** Bytes of `chunks[0]` already consumed. */
  private headOffset = 0;
  /** Unconsumed bytes over all chunks. */
  private bufferedBytes = 0;
  /** Where the search for the next LF resumes (chunk index, offset in it): bytes before it hold no LF. */
  private scanChunk = 0;
  private scanOffset = 0;
  /** The bytes at the head continue a streamed body line whose start was already passed on. */
  private midLine = false;
  private body: BodyInProgress | undefined;

  /** Adds bytes as they arrived from the socket. The reader keeps a reference; the caller must not reuse it. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** Bytes received but not yet part of a returned response (after STLS this must be 0, RFC 2595 §4). */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** Whether a multi-line body has begun and not yet ended. */
  get midResponse(): boolean {
    return this.body !== undefined;
  }

  /**
   * The next complete response, or undefined when more bytes are needed. `limit` bounds the body of a multi-line
   * response (after unstuffing); with a `sink` the body goes there as it arrives instead of being collected.
   * Throws a Pop3Error for a stream that is not POP3, and one with code TOO-LARGE for a body over its limit
   * (either way the connection is unusable: the rest of the answer is not read).
   */
  read(shape: ResponseShape, limit = Number.MAX_SAFE_INTEGER, sink?: BodySink): Pop3Response | undefined {
    if (this.body === undefined) {
      const line = this.takeLine();
      if (line === undefined) {
        if (this.bufferedBytes > MAX_STATUS_LINE) {
          throw new Pop3Error('protocol', `POP3 server sent a status line longer than ${MAX_STATUS_LINE} bytes`);
        }
        return undefined;
      }
      const status = parseStatusLine(line);
      if (shape === 'single' || status.status === 'err') return status;
      if (status.status === 'continue') {
        throw new Pop3Error('protocol', 'POP3 server sent a continuation "+" where +OK or -ERR was due');
      }
      this.body = { text: status.text, limit, sink, parts: [], partBytes: 0, collected: [], total: 0 };
    }
    return this.readBody(this.body);
  }

  /**
   * Whether the buffered bytes begin like a status line (`+OK` or `-ERR`, then a space or the line end), as the
   * answer to the next command must. Undefined while too few bytes are buffered to tell. This is how a message
   * cut short by a server that does not dot-stuff shows itself: the rest of the message follows its early end.
   */
  nextLooksLikeStatus(): boolean | undefined {
    const head = this.peek(5);
    for (const word of STATUS_WORDS) {
      const compared = Math.min(head.length, word.length);
      let same = true;
      for (let i = 0; i < compared; i++) {
        if ((head[i] | (i > 0 ? 0x20 : 0)) !== (word[i] | (i > 0 ? 0x20 : 0))) same = false;
      }
      if (!same) continue;
      if (head.length <= word.length) return undefined;
      const after = head[word.length];
      return after === 0x20 || after === CR || after === LF;
    }
    return head.length === 0 ? undefined : false;
  }

  /** RFC 1939 §3: lines up to one that is "." alone; a leading "." on any other line is stuffing and goes. */
  private readBody(body: BodyInProgress): Pop3Response | undefined {
    if (body.sink) return this.readStreamedBody(body);
    for (;;) {
      const line = this.takeLine();
      if (line === undefined) {
        if (this.bufferedBytes <= MAX_STATUS_LINE) return undefined;
        throw new Pop3Error('protocol', `POP3 server sent a listing line longer than ${MAX_STATUS_LINE} bytes`);
      }
      if (line[0] === DOT) {
        if (isTerminator(line)) return this.finish(body);
        this.append(body, line.subarray(1));
      } else {
        this.append(body, line);
      }
    }
  }

  /**
   * The same for a streamed body, without looking at every line: only a line that starts with "." needs
   * anything done (its dot removed, or it ends the body), so the bytes up to the next such line pass on as one
   * view of the socket chunk they are in. A message of ordinary lines costs a few views per chunk, not one per line.
   */
  private readStreamedBody(body: BodyInProgress): Pop3Response | undefined {
    for (;;) {
      if (this.chunks.length === 0) return undefined;
      const chunk = this.chunks[0];
      const pos = this.headOffset;
      if (!this.midLine && chunk[pos] === DOT) {
        // A dot line: taken whole (it may end the body); a long one passes on in pieces like any long line.
        const line = this.takeLine();
        if (line === undefined) {
          if (this.bufferedBytes <= STREAM_PARTIAL_LINE) return undefined;
          const partial = this.takeAll();
          this.midLine = true;
          this.append(body, partial.subarray(1));
          continue;
        }
        if (isTerminator(line)) return this.finish(body);
        this.append(body, line.subarray(1));
        continue;
      }
      // Up to the line break before the next line that starts with ".", or all of this chunk.
      const dotLine = chunk.indexOf(LF_DOT, pos);
      const end = dotLine === -1 ? chunk.length : dotLine + 1;
      const span = this.consumeThrough(0, end);
      this.midLine = span[span.length - 1] !== LF;
      this.append(body, span);
    }
  }

  private append(body: BodyInProgress, bytes: Buffer): void {
    if (bytes.length === 0) return;
    body.total += bytes.length;
    if (body.total > body.limit) {
      this.body = undefined;
      throw new Pop3Error('protocol', `the answer is larger than the limit of ${body.limit} bytes`, { code: TOO_LARGE });
    }
    body.parts.push(bytes);
    body.partBytes += bytes.length;
    if (body.partBytes >= STREAM_CHUNK) this.flush(body);
  }

  /** Hands the parts to the sink, or joins them into one piece of the collected body (the socket chunks can go). */
  private flush(body: BodyInProgress): void {
    if (body.partBytes === 0) return;
    const parts = body.parts;
    const bytes = body.partBytes;
    body.parts = [];
    body.partBytes = 0;
    if (body.sink) body.sink.write(parts, bytes);
    else body.collected.push(Buffer.concat(parts, bytes));
  }

  private finish(body: BodyInProgress): Pop3Response {
    this.body = undefined;
    if (body.sink) {
      this.flush(body);
      return { status: 'ok', text: body.text, size: body.total };
    }
    const pieces = body.collected.length === 0 ? body.parts : [...body.collected, Buffer.concat(body.parts, body.partBytes)];
    return { status: 'ok', text: body.text, body: Buffer.concat(pieces, body.total), size: body.total };
  }

  /** Removes and returns the next line including its terminator (LF; a CR before it stays part of the bytes). */
  private takeLine(): Buffer | undefined {
    for (let i = this.scanChunk; i < this.chunks.length; i++) {
      const chunk = this.chunks[i];
      const from = i === this.scanChunk ? this.scanOffset : 0;
      const start = i === 0 ? Math.max(from, this.headOffset) : from;
      const lf = chunk.indexOf(LF, start);
      if (lf !== -1) {
        const line = this.consumeThrough(i, lf + 1);
        this.midLine = false;
        return line;
      }
    }
    this.scanChunk = Math.max(0, this.chunks.length - 1);
    this.scanOffset = this.chunks.length > 0 ? this.chunks[this.chunks.length - 1].length : 0;
    return undefined;
  }

  /** Takes every buffered byte (they hold no LF). */
  private takeAll(): Buffer {
    const last = this.chunks.length - 1;
    return this.consumeThrough(last, this.chunks[last].length);
  }

  /** Up to `count` bytes from the head, without consuming them. */
  private peek(count: number): Buffer {
    const pieces: Buffer[] = [];
    let have = 0;
    for (let i = 0; i < this.chunks.length && have < count; i++) {
      const piece = this.chunks[i].subarray(i === 0 ? this.headOffset : 0);
      pieces.push(piece.subarray(0, count - have));
      have += Math.min(piece.length, count - have);
    }
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
  }

  /** Takes the bytes from the head up to chunk `index`, offset `end` (exclusive); a view when in one chunk. */
  private consumeThrough(index: number, end: number): Buffer {
    let line: Buffer;
    if (index === 0) {
      line = this.chunks[0].subarray(this.headOffset, end);
    } else {
      const pieces = [this.chunks[0].subarray(this.headOffset)];
      for (let i = 1; i < index; i++) pieces.push(this.chunks[i]);
      pieces.push(this.chunks[index].subarray(0, end));
      line = Buffer.concat(pieces);
      this.chunks.splice(0, index);
    }
    this.headOffset = end;
    if (this.headOffset === this.chunks[0].length) {
      this.chunks.shift();
      this.headOffset = 0;
    }
    this.bufferedBytes -= line.length;
    this.scanChunk = 0;
    this.scanOffset = this.headOffset;
    return line;
  }
}

/** A line break followed by a dot: where a line that needs unstuffing (or ends the body) starts. */
const LF_DOT = Buffer.from('\n.', 'latin1');

/** The words a status line starts with, upper case (compared case-insensitively after the first byte). */
const STATUS_WORDS = [Buffer.from('+OK'), Buffer.from('-ERR')];

/** ".\r\n" (or ".\n" from a sloppy server) ends a multi-line response. */
function isTerminator(line: Buffer): boolean {
  if (line.length === 2) return line[1] === LF;
  return line.length === 3 && line[1] === CR && line[2] === LF;
}

function withoutLineEnd(line: Buffer): Buffer {
  let end = line.length;
  if (end > 0 && line[end - 1] === LF) end--;
  if (end > 0 && line[end - 1] === CR) end--;
  return line.subarray(0, end);
}

/** `+OK text`, `-ERR text`, or `+ text` (RFC 1939 §3, RFC 5034 §4). */
function parseStatusLine(raw: Buffer): Pop3Response {
  const line = withoutLineEnd(raw).toString('utf8');
  const indicator = /^(\+OK|-ERR|\+)(?= |$)/i.exec(line);
  if (!indicator) {
    const preview = JSON.stringify(line.slice(0, 80));
    throw new Pop3Error('protocol', `POP3 server sent a line that is not +OK, -ERR or +: ${preview}`);
  }
  const text = line.slice(indicator[0].length + 1);
  const word = indicator[1].toUpperCase();
  const status = word === '+OK' ? 'ok' : word === '-ERR' ? 'err' : 'continue';
  return { status, text };
}
