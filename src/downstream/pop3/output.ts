/**
 * What the server writes to one client, with back-pressure: a message goes out in pieces, and the
 * session waits for the socket to drain whenever more than HIGH_WATER bytes are queued, so a client that
 * reads slowly (or pipelines a hundred RETRs) never makes the server hold more than that in memory.
 */
import type net from 'node:net';

/** Queued output above this waits for the client to read. */
const HIGH_WATER = 256 * 1024;
/** Large unchanged runs of a message are written in slices of this size. */
const SLICE = 64 * 1024;

export class Pop3Output {
  constructor(private socket: net.Socket) {}

  setSocket(socket: net.Socket): void {
    this.socket = socket;
  }

  /**
   * Holds writes until uncork(), so a response (status line, message, terminator) leaves in as few
   * packets as its size needs rather than one per piece.
   */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    while (this.socket.writableCorked > 0) this.socket.uncork();
  }

  line(text: string): void {
    if (!this.socket.writable) return;
    this.socket.write(text.endsWith('\r\n') ? text : `${text}\r\n`);
  }

  /** A multi-line response's status line and lines (already stuffed by the caller where needed), then ".". */
  lines(status: string, lines: readonly string[]): void {
    this.line([status, ...lines, '.'].join('\r\n'));
  }

  /** Writes the pieces in order, waiting for the client whenever too much is queued. */
  async pieces(pieces: readonly Buffer[]): Promise<void> {
    for (const piece of pieces) {
      for (let start = 0; start < piece.length; start += SLICE) {
        if (!this.socket.writable) return;
        this.socket.write(piece.length <= SLICE ? piece : piece.subarray(start, start + SLICE));
        if (this.socket.writableLength > HIGH_WATER) {
          // Corked output never drains: let it go, wait, and go on corked.
          const corked = this.socket.writableCorked > 0;
          this.uncork();
          await this.drain();
          if (corked) this.socket.cork();
        }
      }
    }
  }

  /** Resolves once the queued output is below HIGH_WATER (or the socket is gone). */
  drain(): Promise<void> {
    const socket = this.socket;
    if (socket.writableLength <= HIGH_WATER || !socket.writable) return Promise.resolve();
    return new Promise((resolve) => {
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
