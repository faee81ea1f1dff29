/**
 * Checks the local logins of IMAP and SMTP clients: the account's address and its local password
 * (`hotbridge password`). Failed attempts are slowed down per client address, so guessing over many
 * connections is no faster than over one.
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
    const address = user.trim().toLowerCase();
    const known = this.options.accounts().includes(address);
    const ok = (await this.passwords.verify(known ? address : '\u0000unknown', password)) && known;
    if (ok) {
      this.failures.delete(remoteAddress);
      return address;
    }
    const now = Date.now();
    const previous = this.failures.get(remoteAddress);
    // Failures older than 15 minutes are forgiven.
    const count = previous && now - previous.last < 15 * 60_000 ? previous.count + 1 : 1;
    this.failures.set(remoteAddress, { count, last: now });
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
    await sleep(Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (count - 1)));
    return undefined;
  }

  /** Whether any local password exists for the address (to tell the user to run `hotbridge password`). */
  hasPassword(address: string): boolean {
    return this.passwords.has(address);
  }
}
