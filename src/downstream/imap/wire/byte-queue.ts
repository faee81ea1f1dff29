/**
 * The bytes a client sent that the command reader has not consumed yet, as the socket delivered them
 * (no copying on arrival). Finding the end of a line resumes where the previous search stopped, so a
 * client that dribbles a long line one byte per packet costs linear time, not quadratic.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Offset of the first unconsumed byte in chunks[0]. */
  private head = 0;
  private total = 0;
  // Where the last unsuccessful search for LF stopped: chunk index, offset in it, and bytes before it.
  private scanChunk = 0;
  private scanOffset = 0;
  private scanBase = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Offset (from the first unconsumed byte) of the first LF, or -1 when none has arrived yet. */
  indexOfLineFeed(): number {
    if (this.scanChunk === 0 && this.scanOffset < this.head) this.scanOffset = this.head;
    while (this.scanChunk < this.chunks.length) {
      const chunk = this.chunks[this.scanChunk];
      const found = chunk.indexOf(0x0a, this.scanOffset);
      const start = this.scanChunk === 0 ? this.head : 0;
      if (found >= 0) return this.scanBase + (found - start);
      this.scanBase += chunk.length - start;
      this.scanChunk++;
      this.scanOffset = 0;
    }
    return -1;
  }

  /** Removes and returns the first `n` bytes (a view when they lie in one chunk, a copy otherwise). */
  take(n: number): Buffer {
    const views = this.takeViews(n);
    return views.length === 1 ? views[0] : Buffer.concat(views);
  }

  /** Removes the first `n` bytes and returns them as views of the received chunks (no copy). */
  takeViews(n: number): Buffer[] {
    if (n > this.total) throw new RangeError(`take(${n}) with only ${this.total} bytes queued`);
    const out: Buffer[] = [];
    let remaining = n;
    while (remaining > 0) {
      const chunk = this.chunks[0];
      const available = chunk.length - this.head;
      if (available <= remaining) {
        out.push(this.head === 0 ? chunk : chunk.subarray(this.head));
        this.chunks.shift();
        this.head = 0;
        remaining -= available;
      } else {
        out.push(chunk.subarray(this.head, this.head + remaining));
        this.head += remaining;
        remaining = 0;
      }
    }
    this.total -= n;
    this.resetScan();
    return out;
  }

  /** Drops the first `n` bytes (or everything) without keeping them. */
  drop(n: number = this.total): void {
    this.takeViews(Math.min(n, this.total));
  }

  private resetScan(): void {
    this.scanChunk = 0;
    this.scanOffset = this.head;
    this.scanBase = 0;
  }
}
