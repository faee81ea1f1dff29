/**
 * Checks the local logins of IMAP and SMTP clients: the account's address and its local password
 * (`hotbridge password`). Attempts from one client address run one at a time and a failure delays the
 * next, so guessing over many parallel connections is no faster than over one. Every loopback address
 * (all of 127.0.0.0/8, and ::1) counts as one client: on Linux any of them reaches a loopback listener.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalPasswords } from '../store/local-passwords.js';

export interface LocalAuthOptions {
  /** The configured account addresses (lowercase); other names never log in. */
  accounts: () => readonly string[];
  /** Base delay after a failure; doubles per recent failure from the same address, capped. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class LocalAuthenticator {
  private readonly failures = new Map<string, { count: number; last: number }>();
  /** The last attempt queued per client, so the next one from it waits its turn (and its penalty). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    readonly passwords: LocalPasswords,
    private readonly options: LocalAuthOptions,
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
  }

  /**
   * Returns the canonical account address on success, undefined on failure (after the penalty delay).
   * `remoteAddress` is the client's IP.
   */
  async verify(user: string, password: string, remoteAddress: string): Promise<string | undefined> {
    const client = clientKey(remoteAddress);
    const attempt = (this.queues.get(client) ?? Promise.resolve()).then(() => this.attempt(user, password, client));
    const turn = attempt.catch(() => undefined);
    this.queues.set(client, turn);
    void turn.then(() => {
      if (this.queues.get(client) === turn) this.queues.delete(client);
    });
    return attempt;
  }

  private async attempt(user: string, password: string, client: string): Promise<string | undefined> {
    const address = user.trim().toLowerCase();
    const known = this.options.accounts().includes(address);
    const ok = (await this.passwords.verify(known ? address : '\u0000unknown', password)) && known;
    if (ok) {
      this.failures.delete(client);
      return address;
    }
    const now = Date.now();
    const previous = this.failures.get(client);
    // Failures older than 15 minutes are forgiven.
    const count = previous && now - previous.last < 15 * 60_000 ? previous.count + 1 : 1;
    this.failures.set(client, { count, last: now });
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
    await sleep(Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (count - 1)));
    return undefined;
  }

  /** Whether any local password exists for the address (to tell the user to run `hotbridge password`). */
  hasPassword(address: string): boolean {
    return this.passwords.has(address);
  }
}

/** The client an attempt is counted against: loopback addresses are one client (see the header). */
export function clientKey(remoteAddress: string): string {
  const address = remoteAddress.replace(/^::ffff:/i, '');
  if (address === '::1' || /^127\./.test(address)) return 'loopback';
  return address;
}
