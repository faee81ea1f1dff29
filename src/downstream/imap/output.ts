/**
 * Everything the server sends goes through one `ResponseOutput` per connection. Responses are gathered
 * and handed to the socket together (a `UID FETCH 1:* (UID FLAGS)` over 100,000 messages is 100,000
 * lines): protocol text as strings, message bytes as the Buffers they are, in one corked write, so the
 * kernel gets them in one writev and nothing is copied into a combined buffer first. `drain()` waits for
 * the socket when its buffer is full, so a slow client holds back a big FETCH instead of the server
 * buffering a mailbox of bodies in memory.
 */
import type { Duplex } from 'node:stream';

/** Pending output is handed to the socket once it reaches this size. */
const BATCH_BYTES = 64 * 1024;

/** The batched, backpressure-aware writer of one connection. */
export class ResponseOutput {
  /** Text since the last Buffer (V8 joins appended strings cheaply, without copying each time). */
  private text = '';
  /** Earlier text and Buffers, in order. */
  private chunks: Array<string | Buffer> = [];
  /** Roughly what is pending (text counted in characters, which is exact for the ASCII of the protocol). */
  private pendingBytes = 0;

  constructor(private socket: Duplex) {}

  /** Switches to a new transport (STARTTLS) after flushing what is pending. */
  setSocket(socket: Duplex): void {
    this.flush();
    this.socket = socket;
  }

  /** Appends ASCII/UTF-8 text (protocol lines). */
  write(text: string): void {
    this.text += text;
    this.pendingBytes += text.length;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
  }

  /** Appends bytes (message data), kept as they are until they reach the socket. */
  writeBytes(bytes: Buffer): void {
    if (bytes.length === 0) return;
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
      socket.write(chunks[0]);
      return;
    }
    // Corked, the writes below reach the socket together (one writev) when it is uncorked.
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
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
}
