/**
 * The command reader: turns the client's byte stream into commands (RFC 3501 §2.2, §4.3).
 *
 * A command is a line, or several lines joined by literals: a line ending in `{n}` (synchronizing: the
 * client waits for our `+` continuation) or `{n+}` (LITERAL+, RFC 7888: the bytes follow at once) is
 * followed by exactly n bytes, then the command goes on. The reader is pulled (`next()`), one event at
 * a time, by the connection when it is ready for the next command, so a command never races the
 * handler of the one before it (AUTHENTICATE and IDLE read raw lines in between).
 *
 * Limits, all enforced before the bytes are kept: the text of one command (everything but its
 * literals) may not exceed `maxLineBytes` (64 KiB) and is discarded up to the next line end when it
 * does; a literal larger than `maxLiteralBytes` is refused from its announced size alone.
 */
import { ByteQueue } from './byte-queue.js';

/** Sizes the reader refuses to buffer beyond. */
export interface ReaderLimits {
  /** Text of one command without its literals (64 KiB in the daemon). */
  maxLineBytes: number;
  /** The largest literal accepted (the configured maximum message size). */
  maxLiteralBytes: number;
}

/** One command as received: `segments[i]` is the text before `literals[i]`; CRLFs are removed. */
export interface RawCommand {
  segments: Buffer[];
  literals: Buffer[];
}

/** What the reader hands the connection. */
export type ReaderEvent =
  /** A complete command. */
  | { kind: 'command'; command: RawCommand }
  /** A raw line (CRLF removed), when the connection asked for one (AUTHENTICATE, IDLE). */
  | { kind: 'line'; line: Buffer }
  /**
   * A synchronizing literal was announced: the connection sends `+ ...` now, or refuses the command
   * from what it has so far (`partial`, ending in the `{n}` line) and calls `abandon()`.
   */
  | { kind: 'continue'; partial: RawCommand }
  /** The command text grew over the limit; the rest of the line is being discarded. */
  | { kind: 'line-too-long'; tag: string }
  /**
   * A literal over the limit was announced. For a synchronizing literal the client sends nothing more
   * of this command; after a non-synchronizing one the stream cannot be trusted and the reader stops.
   */
  | { kind: 'literal-too-large'; tag: string; command: string; size: number; synchronizing: boolean };

// `{n}` or `{n+}` at the very end of a line; n has at most 20 digits (number64) but anything over
// 2^53 is refused as too large anyway.
const LITERAL_MARKER = /\{(\d{1,20})(\+?)\}$/;

/** The byte-level framing of commands: lines, literals and limits. */
export class CommandReader {
  private readonly queue = new ByteQueue();
  /** The command being assembled, while it is split by literals. */
  private current: { segments: Buffer[]; literals: Buffer[]; textBytes: number } | undefined;
  /** Bytes of the literal still to come, and what has come of it. */
  private literalRemaining = -1;
  private literalParts: Buffer[] = [];
  /** After a too-long line: throw bytes away up to the next LF. */
  private discarding = false;
  /** After a refused non-synchronizing literal: nothing more is read. */
  private stopped = false;

  private limits: ReaderLimits;

  constructor(limits: ReaderLimits) {
    this.limits = { ...limits };
  }

  /**
   * Changes the largest literal accepted from the next literal announcement on (the connection keeps it
   * small until login, so an anonymous client cannot make the server buffer a message-sized literal).
   */
  setMaxLiteralBytes(bytes: number): void {
    this.limits = { ...this.limits, maxLiteralBytes: bytes };
  }

  /** Bytes received and not yet consumed (the connection pauses the socket when this grows). */
  get buffered(): number {
    return this.queue.length;
  }

  /** Whether a command is half read (in the middle of a literal or its continuation lines). */
  get inCommand(): boolean {
    return this.current !== undefined;
  }

  push(chunk: Buffer): void {
    if (!this.stopped) this.queue.push(chunk);
  }

  /** Forgets everything buffered (STARTTLS: plaintext sent before the handshake must not count, RFC 3501 §6.2.1). */
  reset(): void {
    this.queue.drop();
    this.current = undefined;
    this.literalRemaining = -1;
    this.literalParts = [];
    this.discarding = false;
  }

  /** Drops the command being assembled: its synchronizing literal was refused, so it will not come. */
  abandon(): void {
    this.current = undefined;
    this.literalRemaining = -1;
    this.literalParts = [];
  }

  /**
   * The next event, or undefined when more bytes are needed. `mode` 'line' asks for one raw line (only
   * between commands); 'command' assembles a command.
   */
  next(mode: 'command' | 'line' = 'command'): ReaderEvent | undefined {
    for (;;) {
      if (this.stopped) return undefined;
      if (this.literalRemaining >= 0) {
        if (!this.readLiteral()) return undefined;
        continue;
      }
      if (this.discarding) {
        const end = this.queue.indexOfLineFeed();
        if (end < 0) {
          this.queue.drop();
          return undefined;
        }
        this.queue.drop(end + 1);
        this.discarding = false;
        continue;
      }
      const line = this.readLine();
      if (line === undefined) {
        const used = this.current?.textBytes ?? 0;
        if (used + this.queue.length > this.limits.maxLineBytes) return this.tooLong();
        return undefined;
      }
      if ('tooLong' in line) return line.tooLong;
      if (mode === 'line' && !this.current) return { kind: 'line', line: line.bytes };
      const event = this.addSegment(line.bytes);
      if (event) return event;
    }
  }

  private readLine(): { bytes: Buffer } | { tooLong: ReaderEvent } | undefined {
    const end = this.queue.indexOfLineFeed();
    if (end < 0) return undefined;
    const used = this.current?.textBytes ?? 0;
    if (used + end > this.limits.maxLineBytes) {
      const head = this.current ? this.current.segments[0] : this.queue.take(Math.min(end, 256));
      this.queue.drop(this.current ? end + 1 : end + 1 - Math.min(end, 256));
      this.current = undefined;
      return { tooLong: { kind: 'line-too-long', tag: tagOf(head) } };
    }
    const raw = this.queue.take(end + 1);
    const length = end > 0 && raw[end - 1] === 0x0d ? end - 1 : end;
    return { bytes: raw.subarray(0, length) };
  }

  /** The line so far is over the limit and has no end yet: report it once and discard the rest. */
  private tooLong(): ReaderEvent {
    const head = this.current ? this.current.segments[0] : this.queue.take(Math.min(this.queue.length, 256));
    this.queue.drop();
    this.current = undefined;
    this.discarding = true;
    return { kind: 'line-too-long', tag: tagOf(head) };
  }

  private addSegment(bytes: Buffer): ReaderEvent | undefined {
    const command = this.current ?? { segments: [], literals: [], textBytes: 0 };
    command.segments.push(bytes);
    command.textBytes += bytes.length;
    // Only the tail can hold a literal marker; decoding 30 bytes is enough to see it.
    const tail = bytes.subarray(Math.max(0, bytes.length - 30)).toString('latin1');
    const marker = LITERAL_MARKER.exec(tail);
    if (!marker) {
      this.current = undefined;
      return { kind: 'command', command: { segments: command.segments, literals: command.literals } };
    }
    const size = Number(marker[1]);
    const synchronizing = marker[2] !== '+';
    const literalTotal = command.literals.reduce((sum, literal) => sum + literal.length, 0);
    if (size > this.limits.maxLiteralBytes || literalTotal + size > this.limits.maxLiteralBytes + this.limits.maxLineBytes) {
      this.current = undefined;
      const first = command.segments[0];
      if (!synchronizing) {
        // The client is sending the bytes anyway; reading them all just to skip them is what the limit
        // forbids, so the connection ends (RFC 7888 §4 leaves this to the server).
        this.stopped = true;
        this.queue.drop();
      }
      return { kind: 'literal-too-large', tag: tagOf(first), command: commandNameOf(first), size, synchronizing };
    }
    this.current = command;
    this.literalRemaining = size;
    this.literalParts = [];
    return synchronizing ? { kind: 'continue', partial: { segments: command.segments, literals: command.literals } } : undefined;
  }

  /** Moves literal bytes out of the queue; true once the literal is complete. */
  private readLiteral(): boolean {
    const n = Math.min(this.literalRemaining, this.queue.length);
    if (n > 0) {
      this.literalParts.push(...this.queue.takeViews(n));
      this.literalRemaining -= n;
    }
    if (this.literalRemaining > 0) return false;
    const parts = this.literalParts;
    this.current!.literals.push(parts.length === 1 ? Buffer.from(parts[0]) : Buffer.concat(parts));
    this.literalParts = [];
    this.literalRemaining = -1;
    return true;
  }
}

/** The tag of a (possibly broken) command line, or `*` when there is none worth echoing (RFC 3501 §7.1). */
export function tagOf(line: Buffer): string {
  const text = line.subarray(0, Math.min(line.length, 128)).toString('latin1');
  // tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 §9): no atom-specials, but "]" is allowed.
  // eslint-disable-next-line no-control-regex -- CTLs are not ASTRING-CHARs
  const match = /^([^\s(){%*"\\+\x00-\x1f\x7f-\xff]+)(?: |$)/.exec(text);
  return match ? match[1] : '*';
}

/** The command name of a line (the word after the tag), upper-cased; '' when there is none. */
export function commandNameOf(line: Buffer): string {
  const text = line.subarray(0, Math.min(line.length, 128)).toString('latin1');
  const match = /^\S+ +([A-Za-z]+)/.exec(text);
  return match ? match[1].toUpperCase() : '';
}
