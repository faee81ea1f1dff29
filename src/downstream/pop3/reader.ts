/**
 * Splits what a POP3 client sends into command lines (RFC 1939 §3: a keyword, arguments, CRLF; a bare LF
 * is taken as a line end too, as Dovecot does). A line longer than the limit is reported once and its
 * bytes are dropped as they come, so no client can make the server buffer more than one line.
 */

export type ReaderEvent = { kind: 'line'; line: Buffer } | { kind: 'too-long' };

export class LineReader {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** Dropping the rest of an over-long line until its LF. */
  private discarding = false;

  constructor(private readonly maxLineBytes: number) {}

  /** Bytes held that are not yet a complete line. */
  get buffered(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Forgets everything buffered (after STLS: plaintext sent before the handshake is not a command). */
  reset(): void {
    this.chunks = [];
    this.bytes = 0;
    this.discarding = false;
  }

  /** The next complete line without its line end, a too-long report, or undefined when none is complete. */
  next(): ReaderEvent | undefined {
    for (;;) {
      if (this.bytes === 0) return undefined;
      const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.bytes);
      const lf = data.indexOf(0x0a);
      if (lf < 0) {
        if (this.discarding) {
          this.chunks = [];
          this.bytes = 0;
          return undefined;
        }
        this.chunks = [data];
        // One more byte may be the CR of a line that is just within the limit.
        if (this.bytes > this.maxLineBytes + 1) {
          // Report now, then drop the rest of this line as it arrives.
          this.chunks = [];
          this.bytes = 0;
          this.discarding = true;
          return { kind: 'too-long' };
        }
        return undefined;
      }
      const rest = data.subarray(lf + 1);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.bytes = rest.length;
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      const end = lf > 0 && data[lf - 1] === 0x0d ? lf - 1 : lf;
      if (end > this.maxLineBytes) return { kind: 'too-long' };
      // A copy: the line must not pin the (possibly large) chunk it came in.
      return { kind: 'line', line: Buffer.from(data.subarray(0, end)) };
    }
  }
}
