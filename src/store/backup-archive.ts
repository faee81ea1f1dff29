/**
 * The backup archive: one file holding every key and value of the store as of one moment, gzip-compressed.
 *
 *   "HOTBRIDGE-BACKUP\n" + a JSON header line
 *   records: u32 key length, key, u32 value length, value (big-endian lengths)
 *   u32 0xFFFFFFFF + u32 length + a JSON trailer: { entries, sha256 } over every record's bytes
 *
 * The archive is written to a temporary name beside the target and renamed only when complete and synced,
 * so an interrupted backup never leaves a file that looks like a finished one. The trailer lets `restore`
 * (and the check right after writing) tell a complete archive from a cut or damaged one.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const MAGIC = 'HOTBRIDGE-BACKUP\n';
const END_OF_RECORDS = 0xffffffff;
export const ARCHIVE_FORMAT = 1;
/** Records are written to gzip in pieces of about this size. */
const WRITE_CHUNK = 256 * 1024;

export interface ArchiveHeader {
  format: number;
  createdAt: string;
  /** The data dir the backup was made of (for the user's information). */
  dataDir: string;
  hotbridge?: string;
}

export interface ArchiveSummary {
  entries: number;
  sha256: string;
  /** Compressed size on disk. */
  bytes: number;
}

/** A damaged, cut or foreign archive. */
export class ArchiveError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ArchiveError';
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

/** Writes an archive; `finish` makes it durable under its final name, `abort` removes the partial file. */
export class ArchiveWriter {
  private readonly partial: string;
  private readonly gzip = zlib.createGzip({ level: 1 });
  private readonly out: fs.WriteStream;
  private readonly hash: Hash = createHash('sha256');
  private readonly closed: Promise<void>;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private entries = 0;
  private failure?: Error;

  constructor(
    readonly file: string,
    header: ArchiveHeader,
  ) {
    this.partial = path.join(path.dirname(file), `.${path.basename(file)}.partial-${process.pid}`);
    this.out = fs.createWriteStream(this.partial, { mode: 0o600 });
    this.gzip.pipe(this.out);
    this.closed = new Promise<void>((resolve, reject) => {
      this.out.once('close', resolve);
      this.out.once('error', reject);
      this.gzip.once('error', reject);
    });
    this.closed.catch((err: Error) => (this.failure = err));
    this.gzip.write(Buffer.from(MAGIC + JSON.stringify(header) + '\n'));
  }

  /** Adds a record; resolves at once unless the file is behind (then when it has caught up). */
  add(key: Buffer, value: Buffer): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    this.pending.push(u32(key.length), key, u32(value.length), value);
    this.pendingBytes += 8 + key.length + value.length;
    this.entries++;
    return this.pendingBytes >= WRITE_CHUNK ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    // One hash update per chunk: the same bytes as record by record, far fewer calls.
    this.hash.update(chunk);
    if (!this.gzip.write(chunk)) await Promise.race([once(this.gzip, 'drain'), this.closed]);
    if (this.failure) throw this.failure;
  }

  /** Ends the archive, syncs it and gives it its final name. */
  async finish(): Promise<ArchiveSummary> {
    await this.flush();
    const sha256 = this.hash.digest('hex');
    const trailer = Buffer.from(JSON.stringify({ entries: this.entries, sha256 }));
    this.gzip.end(Buffer.concat([u32(END_OF_RECORDS), u32(trailer.length), trailer]));
    await this.closed;
    const fd = fs.openSync(this.partial, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(this.partial, this.file);
    syncDir(path.dirname(this.file));
    return { entries: this.entries, sha256, bytes: fs.statSync(this.file).size };
  }

  /** Drops the partial file (after a failure). */
  async abort(): Promise<void> {
    this.gzip.destroy();
    this.out.destroy();
    await this.closed.catch(() => undefined);
    fs.rmSync(this.partial, { force: true });
  }
}

export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads an archive: the header first, then every record, and checks the trailer (entry count and hash)
 * at the end. Throws ArchiveError when the file is not an archive, is cut short or does not match.
 * `onRecord` gets views into a buffer that is reused: it copies what it keeps.
 */
export async function readArchive(
  file: string,
  onHeader: (header: ArchiveHeader) => void | Promise<void>,
  onRecord: (key: Buffer, value: Buffer) => void | Promise<void>,
): Promise<ArchiveSummary> {
  const hash = createHash('sha256');
  let buffer: Buffer = Buffer.alloc(0);
  let header: ArchiveHeader | undefined;
  let entries = 0;
  let trailer: { entries: number; sha256: string } | undefined;
  /** Where this buffer's records were hashed to already (the trailer hashes them itself), or -1. */
  let hashedTo = -1;
  const source = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  const input = zlib.createGunzip({ chunkSize: 256 * 1024 });
  // pipe() does not pass a read error on: without this a missing file would leave the loop waiting.
  source.once('error', (err) => input.destroy(err));
  source.pipe(input);
  try {
    for await (const chunk of input) {
      buffer = buffer.length > 0 ? Buffer.concat([buffer, chunk as Buffer]) : (chunk as Buffer);
      let offset = 0;
      if (!header) {
        const lf = buffer.indexOf(0x0a, MAGIC.length);
        if (buffer.length >= MAGIC.length && buffer.toString('latin1', 0, MAGIC.length) !== MAGIC)
          throw new ArchiveError(file, 'this is not a hotbridge backup');
        if (lf < 0) continue;
        header = JSON.parse(buffer.toString('utf8', MAGIC.length, lf)) as ArchiveHeader;
        if (header.format !== ARCHIVE_FORMAT)
          throw new ArchiveError(file, `the backup has format ${header.format}; this hotbridge reads format ${ARCHIVE_FORMAT}`);
        await onHeader(header);
        offset = lf + 1;
      }
      const recordsFrom = offset;
      for (;;) {
        if (trailer) {
          if (buffer.length > offset) throw new ArchiveError(file, 'there are bytes after the end of the backup');
          break;
        }
        if (buffer.length - offset < 8) break;
        const keyLength = buffer.readUInt32BE(offset);
        if (keyLength === END_OF_RECORDS) {
          const trailerLength = buffer.readUInt32BE(offset + 4);
          if (buffer.length - offset - 8 < trailerLength) break;
          hash.update(buffer.subarray(recordsFrom, offset));
          hashedTo = offset;
          trailer = JSON.parse(buffer.toString('utf8', offset + 8, offset + 8 + trailerLength)) as { entries: number; sha256: string };
          offset += 8 + trailerLength;
          continue;
        }
        if (buffer.length - offset < 4 + keyLength + 4) break;
        const valueLength = buffer.readUInt32BE(offset + 4 + keyLength);
        const size = 8 + keyLength + valueLength;
        if (buffer.length - offset < size) break;
        const pending = onRecord(
          buffer.subarray(offset + 4, offset + 4 + keyLength),
          buffer.subarray(offset + 8 + keyLength, offset + size),
        );
        if (pending) await pending;
        entries++;
        offset += size;
      }
      // The records read from this buffer, hashed in one go (the trailer's bytes are not part of the hash).
      if (hashedTo < recordsFrom) hash.update(buffer.subarray(recordsFrom, offset));
      hashedTo = -1;
      buffer = buffer.subarray(offset);
    }
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR')
      throw new ArchiveError(file, `the backup is damaged or cut short (${(err as Error).message})`);
    if (err instanceof SyntaxError) throw new ArchiveError(file, 'the backup is damaged (unreadable header or trailer)');
    throw err;
  }
  if (!header) throw new ArchiveError(file, 'this is not a hotbridge backup');
  if (!trailer) throw new ArchiveError(file, `the backup is cut short after ${entries} entries (it has no end)`);
  const sha256 = hash.digest('hex');
  if (trailer.entries !== entries || trailer.sha256 !== sha256)
    throw new ArchiveError(
      file,
      `the backup is damaged: it should hold ${trailer.entries} entries with hash ${trailer.sha256}, it holds ${entries} with ${sha256}`,
    );
  return { entries, sha256, bytes: fs.statSync(file).size };
}
