/**
 * LevelDB memory-maps the table files it reads, and the pages read count in the process's RSS until the
 * table is dropped from LevelDB's table cache (64 tables at the least: LevelDB will not take a smaller one)
 * or the database is closed. One-pass readers that have the store to themselves (export, verify and
 * restore with the daemon stopped) reopen the database when these pages grew by RELEASE_MAPPED_BYTES.
 */
import fs from 'node:fs';

/** Growth of the mapped file pages since the last reopen that makes a one-pass reader reopen. */
export const RELEASE_MAPPED_BYTES = 8 * 1024 * 1024;

/** The process's resident file-backed pages (Linux's RssFile: the mapped tables and the node binary). */
export function mappedFileBytes(): number | undefined {
  try {
    const match = /^RssFile:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Says when to reopen: after the mapped pages grew by RELEASE_MAPPED_BYTES, or — where /proc cannot say
 * (not Linux) — after that many bytes were read.
 */
export class MappedPages {
  private atRelease = mappedFileBytes();
  private readSinceRelease = 0;

  /** Counts bytes read; true when it is time to reopen. */
  grown(bytesRead: number): boolean {
    this.readSinceRelease += bytesRead;
    const now = this.atRelease === undefined ? undefined : mappedFileBytes();
    const grown = now === undefined || this.atRelease === undefined ? this.readSinceRelease : now - this.atRelease;
    return grown >= RELEASE_MAPPED_BYTES;
  }

  /** The database was reopened. */
  released(): void {
    this.atRelease = mappedFileBytes();
    this.readSinceRelease = 0;
  }
}
