/**
 * The local passwords mail clients use for IMAP and SMTP on localhost (`hotbridge password`), hashed with
 * scrypt in a 0600 file of the data dir. A file and not LevelDB: `hotbridge password` must work while the
 * daemon holds the store's lock, and the daemon notices the change by the file's stamp (inode, size, mtime).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './files.js';

const FILE_NAME = 'local-passwords.json';
/**
 * The shortest local password `hotbridge password` takes. The listeners are on loopback, but any program
 * on this computer can try passwords there; 12 characters put guessing out of reach even at the rate the
 * login limits allow. Set-up makes up 19-character ones.
 */
export const MIN_LOCAL_PASSWORD_LENGTH = 12;
// N = 2^15 costs ~50 ms here: slow enough to make guessing expensive, fast enough for a login.
const PARAMS = { N: 32768, r: 8, p: 1, keyLength: 32 };

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, { ...options, maxmem: 128 * options.N! * options.r! * 2 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, PARAMS.keyLength, { N: PARAMS.N, r: PARAMS.r, p: PARAMS.p });
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const [scheme, n, r, p, saltText, keyText] = encoded.split('$');
  if (scheme !== 'scrypt' || !saltText || !keyText) return false;
  const expected = Buffer.from(keyText, 'base64');
  const actual = await scrypt(password, Buffer.from(saltText, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(actual, expected);
}

/** The password file cannot be read or parsed; the message names the file and the fix. */
export class LocalPasswordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalPasswordsError';
  }
}

/** The password file of a data dir, re-read when it changes on disk. */
export class LocalPasswords {
  private cache: Record<string, string> = {};
  private cachedStamp = '';

  constructor(readonly dataDir: string) {}

  get file(): string {
    return path.join(this.dataDir, FILE_NAME);
  }

  /**
   * What the file is now, cheaply: device, inode, size and mtime. `hotbridge password` replaces the
   * file by a rename, so a change always shows here (a new inode even within one mtime tick); 'none'
   * when there is no file.
   */
  stamp(): string {
    try {
      const stat = fs.statSync(this.file, { bigint: true });
      return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}`;
    } catch {
      return 'none';
    }
  }

  private read(): Record<string, string> {
    const stamp = this.stamp();
    if (stamp === 'none') {
      this.cache = {};
      this.cachedStamp = stamp;
      return this.cache;
    }
    if (stamp !== this.cachedStamp) {
      this.cache = this.parse();
      this.cachedStamp = stamp;
    }
    return this.cache;
  }

  /** Reads the file, or says in words what is wrong with it (naming the file): never a bare EACCES. */
  private parse(): Record<string, string> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EACCES' || code === 'EPERM'
          ? 'permission denied (check its owner and mode: it should belong to the user hotbridge runs as, mode 0600)'
          : code === 'EISDIR'
            ? 'it is a directory, not a file'
            : (err as Error).message;
      throw new LocalPasswordsError(`cannot read the local passwords file ${this.file}: ${why}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new LocalPasswordsError(
        `the local passwords file ${this.file} is damaged (${(err as Error).message}); move it away and set the passwords again with hotbridge password ADDRESS`,
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new LocalPasswordsError(
        `the local passwords file ${this.file} is damaged (not an object); move it away and set the passwords again with hotbridge password ADDRESS`,
      );
    }
    return parsed as Record<string, string>;
  }

  /** Throws a LocalPasswordsError when the file exists but cannot be used (the daemon checks this before it starts). */
  check(): void {
    this.read();
  }

  has(address: string): boolean {
    return this.read()[address.toLowerCase()] !== undefined;
  }

  async set(address: string, password: string): Promise<void> {
    if (password.length === 0) throw new Error('the password is empty');
    const entries = { ...this.read(), [address.toLowerCase()]: await hashPassword(password) };
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify(entries, null, 2) + '\n');
  }

  /** Whether the address/password pair is right. Unknown addresses still cost one scrypt (no timing oracle). */
  async verify(address: string, password: string): Promise<boolean> {
    const encoded = this.read()[address.toLowerCase()];
    if (encoded === undefined) {
      await hashPassword(password);
      return false;
    }
    return verifyPassword(password, encoded);
  }
}
