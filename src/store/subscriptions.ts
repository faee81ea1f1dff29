/**
 * Subscriptions (RFC 3501 §6.3.6): a set of mailbox names per account. They may name mailboxes that do
 * not exist (any more); LSUB and LIST (SUBSCRIBED) show them anyway.
 */
import type { Sublevels } from './database.js';
import { subscriptionKey, subscriptionRange } from './keys.js';
import { canonicalMailboxName } from './mailboxes.js';
import type { Transaction } from './transaction.js';

export class Subscriptions {
  constructor(private readonly sub: Pick<Sublevels, 'subscription'>) {}

  /** Subscribed names of an account (`account` lowercased). */
  async list(account: string): Promise<string[]> {
    const names: string[] = [];
    for await (const key of this.sub.subscription.keys(subscriptionRange(account))) {
      names.push(key.slice(key.indexOf('\u0000') + 1));
    }
    return names;
  }

  async has(account: string, name: string): Promise<boolean> {
    return (await this.sub.subscription.get(subscriptionKey(account, canonicalMailboxName(name)))) === true;
  }

  set(txn: Transaction, account: string, name: string, subscribed: boolean): void {
    const key = subscriptionKey(account, canonicalMailboxName(name));
    if (subscribed) txn.put(this.sub.subscription, key, true);
    else txn.del(this.sub.subscription, key);
  }
}
