/**
 * What each account's provider offers at its SMTP EHLO, as far as the local submission server cares:
 * SMTPUTF8 (RFC 6531). The relay learns it at every relay that got past EHLO (upstream/smtp/worker.ts);
 * the submission server offers SMTPUTF8 only while every account's provider does, since a client sees
 * our EHLO before it logs in and so before we know its account. Unknown counts as not offered, and
 * what was learnt is kept in the store's meta, so a restart does not forget it.
 */
import type { AccountConfig } from '../config/types.js';
import type { Logger } from '../runtime/logger.js';
import type { Store } from '../store/index.js';

interface Known {
  smtpUtf8: boolean;
  /** When the provider last said so (ms). */
  seenAt: number;
}

/** Per account and SMTP server: another server (a config change) is not known until it says. */
const keyOf = (account: AccountConfig): string =>
  `${account.address.toLowerCase()}|${account.smtp.host.toLowerCase()}:${account.smtp.port}`;
const metaKey = (account: AccountConfig): string => `provider-smtp:${keyOf(account)}`;

export class ProviderFeatures {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /** Reads what earlier runs learnt for these accounts. */
  async load(accounts: readonly AccountConfig[]): Promise<void> {
    for (const account of accounts) {
      if (this.known.has(keyOf(account))) continue;
      const known = await this.store.getMeta<Known>(metaKey(account));
      if (known && typeof known.smtpUtf8 === 'boolean') this.known.set(keyOf(account), known);
    }
  }

  /** The EHLO keywords the provider of `account` just named. */
  record(account: AccountConfig, extensions: readonly string[]): void {
    const key = keyOf(account);
    const smtpUtf8 = extensions.includes('SMTPUTF8');
    const before = this.known.get(key);
    if (before?.smtpUtf8 === smtpUtf8) return;
    const known = { smtpUtf8, seenAt: Date.now() };
    this.known.set(key, known);
    this.logger.info(
      { account: account.address, smtpUtf8 },
      smtpUtf8
        ? 'the provider offers SMTPUTF8: UTF-8 addresses can be sent'
        : 'the provider does not offer SMTPUTF8: UTF-8 addresses are refused',
    );
    this.store
      .setMeta(metaKey(account), known)
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'could not save what the provider offers'));
  }

  /** Whether the provider of every one of `accounts` is known to offer SMTPUTF8. */
  smtpUtf8(accounts: readonly AccountConfig[]): boolean {
    return accounts.length > 0 && accounts.every((account) => this.known.get(keyOf(account))?.smtpUtf8 === true);
  }
}
