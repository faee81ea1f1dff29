/**
 * Checks the local logins of IMAP and SMTP clients: the account's address and its local password
 * (`hotbridge password`). A client address gets a few attempts at a time, and a failure holds its slot
 * for a growing delay, so guessing over many parallel connections is hardly faster than over a few. Every loopback address
 * (all of 127.0.0.0/8, and ::1) counts as one client: on Linux any of them reaches a loopback listener.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { clientAddressKey } from '../config/loopback.js';
import { LocalPasswords } from './local-passwords.js';

/** The client a login attempt is counted against (every loopback address is one). */
export const clientKey = clientAddressKey;

export interface LocalAuthOptions {
  /** The configured account addresses (lowercase); other names never log in. */
  accounts: () => readonly string[];
  /** Attempts one client may have under way at once (a mail client opens a few connections at a time). */
  maxParallel?: number;
  /** Base delay after a failure; doubles per recent failure from the same address, capped. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class LocalAuthenticator {
  private readonly failures = new Map<string, { count: number; last: number }>();
  /** Attempts running per client, and those waiting for a slot. */
  private readonly slots = new Map<string, { running: number; waiting: Array<() => void> }>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxParallel: number;

  constructor(
    readonly passwords: LocalPasswords,
    private readonly options: LocalAuthOptions,
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.maxParallel = options.maxParallel ?? 4;
  }

  /**
   * Returns the canonical account address on success, undefined on failure (after the penalty delay).
   * `remoteAddress` is the client's IP.
   */
  async verify(user: string, password: string, remoteAddress: string): Promise<string | undefined> {
    const client = clientAddressKey(remoteAddress);
    await this.acquire(client);
    try {
      return await this.attempt(user, password, client);
    } finally {
      this.release(client);
    }
  }

  private async acquire(client: string): Promise<void> {
    let slots = this.slots.get(client);
    if (!slots) {
      slots = { running: 0, waiting: [] };
      this.slots.set(client, slots);
    }
    if (slots.running < this.maxParallel) {
      slots.running += 1;
      return;
    }
    // The slot is handed over by release(): `running` stays as it is.
    await new Promise<void>((resolve) => slots.waiting.push(resolve));
  }

  private release(client: string): void {
    const slots = this.slots.get(client);
    if (!slots) return;
    const next = slots.waiting.shift();
    if (next) next();
    else if (--slots.running === 0) this.slots.delete(client);
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

