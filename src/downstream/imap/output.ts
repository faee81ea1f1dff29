/**
 * Everything the server sends goes through one `ResponseOutput` per connection. Small responses are
 * gathered into large writes (a `UID FETCH 1:* (UID FLAGS)` over 100,000 messages is 100,000 lines);
 * large message literals are handed to the socket as they are, without copying. `drain()` waits for
 * the socket when its buffer is full, so a slow client holds back a big FETCH instead of the server
 * buffering a mailbox of bodies in memory.
 */
import type { Duplex } from 'node:stream';

/** Pending output is handed to the socket once it reaches this size. */
const BATCH_BYTES = 64 * 1024;

/** The batched, backpressure-aware writer of one connection. */
export class ResponseOutput {
  private text = '';
  private buffers: Buffer[] = [];
  private pendingBytes = 0;

  /** Sees everything written (the trace log); set only at trace level. */
  tap?: { server(text: string): void; serverBytes(bytes: number): void };

  constructor(private socket: Duplex) {}

  /** Switches to a new transport (STARTTLS) after flushing what is pending. */
  setSocket(socket: Duplex): void {
    this.flush();
    this.socket = socket;
  }

  /** Appends ASCII/UTF-8 text (protocol lines). */
  write(text: string): void {
    this.tap?.server(text);
    this.text += text;
    if (this.text.length + this.pendingBytes >= BATCH_BYTES) this.flush();
  }

  /** Appends bytes; large ones go out directly after whatever text precedes them. */
  writeBytes(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.tap?.serverBytes(bytes.length);
    this.moveTextToBuffers();
    if (bytes.length >= BATCH_BYTES) {
      this.flush();
      this.send(bytes);
      return;
    }
    this.buffers.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= BATCH_BYTES) this.flush();
  }

  /** `* <text>\r\n`. */
  untagged(text: string): void {
    this.write(`* ${text}\r\n`);
  }

  private moveTextToBuffers(): void {
    if (this.text.length === 0) return;
    const bytes = Buffer.from(this.text, 'utf8');
    this.text = '';
    this.buffers.push(bytes);
    this.pendingBytes += bytes.length;
  }

  /** Hands everything pending to the socket. */
  flush(): void {
    this.moveTextToBuffers();
    if (this.buffers.length === 0) return;
    const data = this.buffers.length === 1 ? this.buffers[0] : Buffer.concat(this.buffers, this.pendingBytes);
    this.buffers = [];
    this.pendingBytes = 0;
    this.send(data);
  }

  private send(data: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(data);
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
