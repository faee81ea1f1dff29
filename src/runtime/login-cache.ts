/**
 * Verified local logins kept in memory, as Dovecot's auth_cache keeps them, so that a mail client that
 * logs in again and again (imaptest's login/logout mode, clients that open a connection per check) does
 * not pay for a 32 MiB scrypt each time, nor queue behind other clients' checks.
 *
 * - The key is an HMAC-SHA256 of the address and the password under a random key made per process:
 *   neither the password nor anything that can be checked against it offline is kept or ever written.
 * - Every entry carries the stamp of the password file it was checked against (runtime/local-passwords.ts):
 *   `hotbridge password` replaces the file, the stamp changes, and the whole cache is dropped at the next
 *   lookup.
 * - A failed check is remembered only as a failure (so a client retrying a stale password does not
 *   cost a hash each time); it is never taken for a success, and the authenticator still applies its
 *   penalty. Failures live in their own bounded map, so a flood of guesses cannot push the
 *   successes out.
 */
import { createHmac, randomBytes } from 'node:crypto';

export interface LoginCacheOptions {
  /** How long a verified login is trusted without a new check (Dovecot's auth_cache_ttl: 1 hour). */
  ttlMs?: number;
  /** How long a failure is remembered (Dovecot's auth_cache_negative_ttl). */
  failureTtlMs?: number;
  /** Entries kept of each kind; the oldest go first. */
  maxEntries?: number;
}

interface Entry {
  stamp: string;
  /** Whether the address was a configured account when checked (a reload may add or remove it). */
  known: boolean;
  expiresAt: number;
}

/** What the cache knows of a login: checked and right, checked and wrong, or nothing. */
export type CachedLogin = 'right' | 'wrong' | undefined;

export class LoginCache {
  private readonly key = randomBytes(32);
  private readonly right = new Map<string, Entry>();
  private readonly wrong = new Map<string, Entry>();
  /** The password file's stamp the entries were made under. */
  private stamp = '';
  private readonly ttlMs: number;
  private readonly failureTtlMs: number;
  private readonly maxEntries: number;

  constructor(options: LoginCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60 * 60_000;
    this.failureTtlMs = options.failureTtlMs ?? 5 * 60_000;
    this.maxEntries = options.maxEntries ?? 1000;
  }

  /** The cache key of an address (as it will be checked: lowercase) and a password. */
  digest(address: string, password: string): string {
    const hmac = createHmac('sha256', this.key);
    // The length first: "a" + "b\0c" and "a\0b" + "c" must not be one key.
    const user = Buffer.from(address, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(user.length);
    return hmac.update(length).update(user).update(password, 'utf8').digest('base64');
  }

  /** What is known of `digest` under the password file's current `stamp`, for an address that is `known` or not. */
  lookup(digest: string, stamp: string, known: boolean): CachedLogin {
    if (stamp !== this.stamp) {
      // The password file changed (or appeared, or went): nothing checked against the old one counts.
      this.right.clear();
      this.wrong.clear();
      this.stamp = stamp;
      return undefined;
    }
    if (this.valid(this.right, digest, stamp, known)) return 'right';
    if (this.valid(this.wrong, digest, stamp, known)) return 'wrong';
    return undefined;
  }

  /** Records the outcome of a check made against the file as it was at `stamp`. */
  remember(digest: string, stamp: string, known: boolean, right: boolean): void {
    // A check that raced with `hotbridge password` belongs to a file that is gone: keep nothing.
    if (stamp !== this.stamp) return;
    const map = right ? this.right : this.wrong;
    map.delete(digest);
    map.set(digest, { stamp, known, expiresAt: Date.now() + (right ? this.ttlMs : this.failureTtlMs) });
    if (right) this.wrong.delete(digest);
    while (map.size > this.maxEntries) map.delete(map.keys().next().value as string);
  }

  /** Entries held now (for status). */
  size(): { right: number; wrong: number } {
    return { right: this.right.size, wrong: this.wrong.size };
  }

  private valid(map: Map<string, Entry>, digest: string, stamp: string, known: boolean): boolean {
    const entry = map.get(digest);
    if (!entry) return false;
    if (entry.stamp !== stamp || entry.known !== known || entry.expiresAt <= Date.now()) {
      map.delete(digest);
      return false;
    }
    return true;
  }
}
