// What a test client has received on a socket and not yet read, for raw protocol clients: they take
// the next line, n bytes, or a whole response as soon as it is complete.
import type net from 'node:net';

/** The length of the first complete unit in `buffered`, or 0 while it is incomplete. */
export type UnitEnd = (buffered: Buffer) => number;

/** A CRLF-ended line (RFC 5321 §2.3.8, RFC 1939 §3, RFC 3501 §2.2): its length with the CRLF. */
const lineEnd: UnitEnd = (buffered) => {
  const nl = buffered.indexOf('\r\n');
  return nl < 0 ? 0 : nl + 2;
};

export class SocketReader {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closedBySocket = false;
  private readonly onData = (chunk: Buffer): void => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.wake();
  };
  private readonly onClose = (): void => {
    this.closedBySocket = true;
    this.wake();
  };

  constructor(readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    // A reset shows as a close to the reader; the test decides whether that is a failure.
    socket.on('error', () => undefined);
  }

  /** The socket has closed: what is buffered is all there will be. */
  get closed(): boolean {
    return this.closedBySocket;
  }

  /** Whether the socket closes within `timeoutMs` (at once if it already has). */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (let left = timeoutMs; !this.closedBySocket && left > 0; left = deadline - Date.now()) await this.nextData(left);
    return this.closedBySocket;
  }

  /**
   * Removes and returns the first complete unit (as `end` measures it), waiting for more bytes when
   * needed; undefined when the socket closes or `timeoutMs` passes first.
   */
  async take(end: UnitEnd, timeoutMs = Infinity): Promise<Buffer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const length = end(this.buffer);
      if (length > 0) {
        const unit = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        return unit;
      }
      const left = deadline - Date.now();
      if (this.closedBySocket || left <= 0) return undefined;
      await this.nextData(left);
    }
  }

  /** The next line, CRLF included. */
  line(timeoutMs = Infinity): Promise<Buffer | undefined> {
    return this.take(lineEnd, timeoutMs);
  }

  /** Exactly n bytes (for literals). */
  bytes(n: number, timeoutMs = Infinity): Promise<Buffer | undefined> {
    return this.take((buffered) => (buffered.length >= n ? n : 0), timeoutMs);
  }

  /** Everything received and not yet taken, removed. */
  takeAll(): Buffer {
    const all = this.buffer;
    this.buffer = Buffer.alloc(0);
    return all;
  }

  /** Everything received and not yet taken, left in place (for error messages). */
  unread(): string {
    return this.buffer.toString('latin1');
  }

  /** Stops reading the socket (before it carries on as TLS, RFC 3207 §4 and RFC 3501 §6.2.1). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onClose);
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves on the next bytes or close, or after `timeoutMs`. */
  private nextData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // setTimeout turns an infinite delay into 1 ms: without a deadline, wait for data alone.
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            this.waiters = this.waiters.filter((waiter) => waiter !== done);
            resolve();
          }, timeoutMs)
        : undefined;
      this.waiters.push(done);
    });
  }
}
