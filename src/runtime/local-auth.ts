/**
 * Checks the local logins of IMAP, SMTP and POP3 clients: the account's address and its local password
 * (`hotbridge password`). Three parts, in the way Dovecot's auth process works:
 *
 * - a cache of verified logins (runtime/login-cache.ts): a login checked before answers at once, and
 *   the same login on several connections at once costs one check;
 * - the scrypt checks of all clients share a few slots (runtime/password-check-queue.ts), which bounds
 *   the memory (32 MiB a check) and serves a new login before a backlog of guesses;
 * - a failure is answered after a delay that grows with the client's recent failures (Dovecot's
 *   auth_failure_delay), and the delay holds nothing: other logins, from the same client too, go on.
 *
 * Every loopback address (all of 127.0.0.0/8, and ::1) counts as one client: on Linux any of them
 * reaches a loopback listener. A client that goes away (its connection closes, `signal` aborts) gives
 * up its queued check and its penalty. The delay slows down a guesser who waits for each answer; one who
 * does not is bounded by the shared slots: a few checks at a time for the whole daemon.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { clientAddressKey } from '../config/loopback.js';
import { LoginCache, type LoginCacheOptions } from './login-cache.js';
import { LocalPasswords } from './local-passwords.js';
import { PasswordCheckQueue } from './password-check-queue.js';

/** The client a login attempt is counted against (every loopback address is one). */
export const clientKey = clientAddressKey;

export interface LocalAuthOptions {
  /** The configured account addresses (lowercase); other names never log in. */
  accounts: () => readonly string[];
  /** Password checks (scrypt, 32 MiB each) running at once over all clients. */
  maxChecks?: number;
  /** A queued check that waited this long goes before newer ones (see PasswordCheckQueue). */
  agingMs?: number;
  /** Delay of the first failure's reply; doubles per recent failure from the same client, capped. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  cache?: LoginCacheOptions;
}

export interface VerifyOptions {
  /** Aborts when the client's connection closes: a check not yet started is dropped, a penalty cut short. */
  signal?: AbortSignal;
}

/** Counters of the local logins since start (status, tests, the benchmark). */
export interface LocalLoginCounts {
  successes: number;
  failures: number;
  /** Logins answered from the cache of verified logins, without a hash. */
  cacheHits: number;
  /** Failures answered from the cache (the same wrong password again), without a hash. */
  failureCacheHits: number;
  /** scrypt checks run. */
  hashes: number;
  /** Checks dropped before they ran because the client went away. */
  dropped: number;
  /** Checks running and waiting now. */
  running: number;
  waiting: number;
}

/**
 * The login name as it may appear in a log line: at most 100 characters (a client can send kilobytes).
 * Never log the password; the name is what the user typed and names no secret.
 */
export function loginNameForLog(user: string): string {
  return user.length > 100 ? `${user.slice(0, 100)}…` : user;
}

/** Failures older than this are forgiven. */
const FAILURE_MEMORY_MS = 15 * 60_000;
/** Clients whose failures are remembered; the oldest is forgotten beyond this. */
const MAX_FAILING_CLIENTS = 10_000;
/** The address every unknown name is checked as, so it costs the same hash as a known one. */
const UNKNOWN = '\u0000unknown';

export class LocalAuthenticator {
  private readonly failuresByClient = new Map<string, { count: number; last: number }>();
  private readonly queue: PasswordCheckQueue;
  private readonly cache: LoginCache;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly counted = { successes: 0, failures: 0, cacheHits: 0, failureCacheHits: 0 };
  /**
   * Checks under way by cache key: a mail client opening several connections at once logs in on each
   * with the same password, and one hash answers them all.
   */
  private readonly inFlight = new Map<string, Promise<boolean | undefined>>();

  constructor(
    readonly passwords: LocalPasswords,
    private readonly options: LocalAuthOptions,
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.queue = new PasswordCheckQueue(options.maxChecks ?? 2, options.agingMs ?? 2000);
    this.cache = new LoginCache(options.cache);
  }

  /**
   * Returns the canonical account address on success; undefined on failure (after the penalty delay)
   * and when the client went away first. `remoteAddress` is the client's IP.
   */
  async verify(user: string, password: string, remoteAddress: string, options: VerifyOptions = {}): Promise<string | undefined> {
    const client = clientAddressKey(remoteAddress);
    const address = user.trim().toLowerCase();
    const known = this.options.accounts().includes(address);
    const stamp = this.passwords.stamp();
    const digest = this.cache.digest(address, password);
    const cached = this.cache.lookup(digest, stamp, known);
    let right: boolean;
    if (cached === 'right') {
      this.counted.cacheHits += 1;
      right = true;
    } else if (cached === 'wrong') {
      this.counted.failureCacheHits += 1;
      right = false;
    } else {
      const checked = await this.check(digest, stamp, known ? address : UNKNOWN, password, options.signal);
      if (checked === undefined) return undefined;
      right = checked && known;
    }
    if (right) {
      this.counted.successes += 1;
      this.failuresByClient.delete(client);
      return address;
    }
    this.counted.failures += 1;
    await this.penalty(client, options.signal);
    return undefined;
  }

  /**
   * The hash check of one address and password, shared with a check of the same pair under way; undefined
   * when this client went away before its check ran (then the next one asking checks for itself).
   */
  private async check(
    digest: string,
    stamp: string,
    address: string,
    password: string,
    signal: AbortSignal | undefined,
  ): Promise<boolean | undefined> {
    const key = `${stamp}\u0000${digest}`;
    const shared = this.inFlight.get(key);
    if (shared) {
      const result = await shared;
      if (result !== undefined || signal?.aborted) return result;
    }
    const run = this.queue.run(() => this.passwords.verify(address, password), signal);
    this.inFlight.set(key, run);
    try {
      const right = await run;
      if (right !== undefined) this.cache.remember(digest, stamp, address !== UNKNOWN, right);
      return right;
    } finally {
      if (this.inFlight.get(key) === run) this.inFlight.delete(key);
    }
  }

  counts(): LocalLoginCounts {
    const queue = this.queue.counts();
    return { ...this.counted, hashes: queue.ran, dropped: queue.dropped, running: queue.running, waiting: queue.waiting };
  }

  /** Whether any local password exists for the address (to tell the user to run `hotbridge password`). */
  hasPassword(address: string): boolean {
    return this.passwords.has(address);
  }

  /** Counts the failure against the client and waits its delay; a client that goes away stops waiting. */
  private async penalty(client: string, signal: AbortSignal | undefined): Promise<void> {
    const now = Date.now();
    const previous = this.failuresByClient.get(client);
    const count = previous && now - previous.last < FAILURE_MEMORY_MS ? previous.count + 1 : 1;
    // Re-inserted, so the map's first key is the client that failed longest ago.
    this.failuresByClient.delete(client);
    this.failuresByClient.set(client, { count, last: now });
    if (this.failuresByClient.size > MAX_FAILING_CLIENTS) this.failuresByClient.delete(this.failuresByClient.keys().next().value as string);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(count - 1, 30));
    try {
      await sleep(delay, undefined, signal ? { signal } : undefined);
    } catch {
      // Aborted: nobody is waiting for this answer any more.
    }
  }
}
