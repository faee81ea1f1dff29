/**
 * Byte-level framing of POP3 server responses (RFC 1939 §3). TCP delivers the stream in arbitrary pieces, so a
 * line terminator may be split between two chunks; the reader keeps the chunks as they came and searches them
 * with `indexOf`, never re-joining the whole buffer per chunk (a multi-megabyte message stays linear).
 *
 * Message bytes never pass through a string: a multi-line body comes out as the Buffer the server held, with
 * its CRLF line endings, 8-bit bytes and dot-unstuffing undone. Only status lines are decoded (as UTF-8).
 */
import { Pop3Error } from './errors.js';

/** Whether a response is one status line, or may carry a multi-line body after `+OK` (RFC 1939 §3). */
export type ResponseShape = 'single' | 'multi';

/** One parsed server response. */
export interface Pop3Response {
  /** `+OK`, `-ERR`, or a SASL continuation `+` (RFC 5034 §4). */
  status: 'ok' | 'err' | 'continue';
  /** The status line after the indicator, without the separating space and CRLF. */
  text: string;
  /** For a multi-line `+OK`: the body, dot-unstuffed, without the terminating `.` line. */
  body?: Buffer;
  /** For a multi-line `+OK` whose body exceeded the limit: the body was read to its end and dropped. */
  oversized?: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/**
 * RFC 2449 §4 limits a status line to 512 octets; real servers are longer now and then (a SASL challenge),
 * so this is generous, but still bounded: a server streaming garbage without a line break is a protocol error.
 */
export const MAX_STATUS_LINE = 64 * 1024;

/** A response in progress: the status line said `+OK` to a multi-line command and the body is being read. */
interface BodyInProgress {
  text: string;
  limit: number;
  parts: Buffer[];
  bytes: number;
  oversized: boolean;
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
  /** The bytes at the head continue a body line whose start was dropped (the body is over its limit). */
  private inDroppedLine = false;
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
   * response (after unstuffing); a larger body is consumed and dropped, and the response comes back `oversized`.
   * Throws a `protocol` Pop3Error for a stream that is not POP3 (the connection is then unusable).
   */
  read(shape: ResponseShape, limit = Number.MAX_SAFE_INTEGER): Pop3Response | undefined {
    if (this.body === undefined) {
      const line = this.takeLine(MAX_STATUS_LINE);
      if (line === undefined) return undefined;
      const status = parseStatusLine(line);
      if (shape === 'single' || status.status === 'err') return status;
      if (status.status === 'continue') {
        throw new Pop3Error('protocol', 'POP3 server sent a continuation "+" where +OK or -ERR was due');
      }
      this.body = { text: status.text, limit, parts: [], bytes: 0, oversized: false };
    }
    return this.readBody(this.body);
  }

  /** RFC 1939 §3: lines up to one that is "." alone; a leading "." on any other line is stuffing and goes. */
  private readBody(body: BodyInProgress): Pop3Response | undefined {
    for (;;) {
      const wasDropped = this.inDroppedLine;
      // Never drop 3 bytes or fewer: they may be the start of the ".\r\n" terminator.
      const line = this.takeLine(body.oversized ? 3 : body.limit - body.bytes + 3);
      if (line === undefined) {
        if (this.inDroppedLine && !body.oversized) this.markOversized(body);
        return undefined;
      }
      if (wasDropped) continue;
      if (line[0] === DOT) {
        if (isTerminator(line)) {
          this.body = undefined;
          if (body.oversized) return { status: 'ok', text: body.text, oversized: true };
          return { status: 'ok', text: body.text, body: Buffer.concat(body.parts, body.bytes) };
        }
        this.appendBodyLine(body, line.subarray(1));
      } else {
        this.appendBodyLine(body, line);
      }
    }
  }

  private appendBodyLine(body: BodyInProgress, line: Buffer): void {
    if (body.oversized) return;
    if (body.bytes + line.length > body.limit) {
      this.markOversized(body);
      return;
    }
    body.parts.push(line);
    body.bytes += line.length;
  }

  private markOversized(body: BodyInProgress): void {
    body.oversized = true;
    body.parts = [];
    body.bytes = 0;
  }

  /**
   * Removes and returns the next line including its terminator. Lines end at LF (a CR before it stays part of
   * the bytes, so a lone LF from a sloppy server is kept as it was). When no LF is buffered yet and more than
   * `maxPartial` bytes wait, a status line is a protocol error and a body line is dropped (`inDroppedLine`).
   */
  private takeLine(maxPartial: number): Buffer | undefined {
    for (let i = this.scanChunk; i < this.chunks.length; i++) {
      const chunk = this.chunks[i];
      const from = i === this.scanChunk ? this.scanOffset : 0;
      const start = i === 0 ? Math.max(from, this.headOffset) : from;
      const lf = chunk.indexOf(LF, start);
      if (lf !== -1) return this.consumeThrough(i, lf + 1);
    }
    this.scanChunk = Math.max(0, this.chunks.length - 1);
    this.scanOffset = this.chunks.length > 0 ? this.chunks[this.chunks.length - 1].length : 0;
    if (this.bufferedBytes > maxPartial) {
      if (this.body === undefined) {
        throw new Pop3Error('protocol', `POP3 server sent a status line longer than ${MAX_STATUS_LINE} bytes`);
      }
      // The line already exceeds what the body may still hold: forget its bytes, remember we are inside it.
      this.chunks = [];
      this.headOffset = 0;
      this.bufferedBytes = 0;
      this.scanChunk = 0;
      this.scanOffset = 0;
      this.inDroppedLine = true;
    }
    return undefined;
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
    this.inDroppedLine = false;
    return line;
  }
}

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
