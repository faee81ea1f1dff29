/**
 * Everything the server sends goes through one `ResponseOutput` per connection. Responses are gathered
 * and handed to the socket together (a `UID FETCH 1:* (UID FLAGS)` over 100,000 messages is 100,000
 * lines). What is pending is kept as a binary string (one character per byte, written as latin1):
 * protocol text, header values and small message parts join it, which costs less than handing the
 * socket many small Buffers (measured: about half the CPU for a FETCH of ten ENVELOPEs); large message
 * parts go to the socket as the Buffers they are, in the same corked write, never copied. `drain()` waits
 * for the socket when its buffer is full, so a slow client holds back a big FETCH instead of the server
 * buffering a mailbox of bodies in memory.
 */
import type { Duplex } from 'node:stream';
import type { TimeSlice } from '../../runtime/time-slice.js';

/** Pending output is handed to the socket once it reaches this size. */
const BATCH_BYTES = 64 * 1024;
/** Message bytes below this size are copied into the pending text; larger ones are written as they are. */
const INLINE_BYTES = 8 * 1024;
// Any character above U+007F: such text must be encoded as UTF-8 first (a control character is ASCII too).
// eslint-disable-next-line no-control-regex -- the range starts at NUL on purpose
const NON_ASCII = /[^\x00-\x7f]/;

/** The batched, backpressure-aware writer of one connection. */
export class ResponseOutput {
  /** Pending output since the last large Buffer, as a binary string. */
  private text = '';
  /** Earlier binary strings and large Buffers, in order. */
  private chunks: Array<string | Buffer> = [];
  private pendingBytes = 0;
  /** Armed by `flushWithin()` while answers are held back; `flush()` disarms it. */
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly timedFlush = (): void => {
    this.flushTimer = undefined;
    this.flush();
  };

  /** Sees everything written (the trace log); set only at trace level. */
  tap?: { serverBinary(binary: string): void; serverBytes(bytes: number): void };

  constructor(private socket: Duplex) {}

  /** Switches to a new transport (STARTTLS) after flushing what is pending. */
  setSocket(socket: Duplex): void {
    this.flush();
    this.socket = socket;
  }

  /** Appends text, sent as UTF-8 (protocol lines; nearly always ASCII, which is the same in both). */
  write(text: string): void {
    this.writeBinary(NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text);
  }

  /** Appends a binary string: each character one byte (8-bit header bytes, rendered ENVELOPEs). */
  writeBinary(binary: string): void {
    this.tap?.serverBinary(binary);
    this.text += binary;
    this.pendingBytes += binary.length;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
  }

  /** Appends bytes (message data), exactly as they are. */
  writeBytes(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (bytes.length < INLINE_BYTES) {
      this.writeBinary(bytes.toString('latin1'));
      return;
    }
    this.tap?.serverBytes(bytes.length);
    if (this.text.length > 0) {
      this.chunks.push(this.text);
      this.text = '';
    }
    this.chunks.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
  }

  /** `* <text>\r\n`. */
  untagged(text: string): void {
    this.write(`* ${text}\r\n`);
  }

  /** Hands everything pending to the socket, as one write. */
  flush(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.text.length > 0) {
      this.chunks.push(this.text);
      this.text = '';
    }
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    this.chunks = [];
    this.pendingBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (chunks.length === 1) {
      socket.write(chunks[0], 'latin1');
      return;
    }
    // Corked, the writes below reach the socket together (one writev) when it is uncorked.
    socket.cork();
    for (const chunk of chunks) socket.write(chunk, 'latin1');
    socket.uncork();
  }

  /**
   * Holds what is pending for at most `ms` (a later `flush()` sends it with whatever came after): the
   * answers to commands a client pipelined go out in one write instead of one each (imaptest sends
   * four to eight commands at once), and a command that waits for long does not hold back the answers
   * before it for longer than that.
   */
  flushWithin(ms: number): void {
    if (this.flushTimer !== undefined || (this.text.length === 0 && this.chunks.length === 0)) return;
    this.flushTimer = setTimeout(this.timedFlush, ms);
  }

  /** Whether the socket's buffer is full (the writer should await `drain()`). */
  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Flushes, then waits until the socket can take more (or is gone). */
  async drain(): Promise<void> {
    this.flush();
    const socket = this.socket;
    if (!socket.writableNeedDrain || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /**
   * Between the responses of a long answer (100,000 FETCH or EXPUNGE lines): whether to `pause()` now,
   * because the socket is full or the connection's turn on the event loop is used up.
   */
  shouldPause(slice: TimeSlice): boolean {
    return this.socket.writableNeedDrain || slice.due();
  }

  /** Waits for the socket if it is full, and lets other work run if the slice is used up. */
  async pause(slice: TimeSlice): Promise<void> {
    if (this.socket.writableNeedDrain) await this.drain();
    if (slice.due()) await slice.yield();
  }
}
