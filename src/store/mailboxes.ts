/**
 * Mailbox records: names, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, special-use attributes. All of them are
 * kept in memory (the IMAP server reads them on every command); a transaction changes a copy of a record
 * (`pending`), written once in its batch and swapped in after the batch is durable.
 */
import type { Sublevels } from './database.js';
import { StoreError } from './errors.js';
import { mailboxKey } from './keys.js';
import type { MailboxRecord, SpecialUse } from './records.js';
import type { Transaction } from './transaction.js';

/** The folders every account gets on first open (RFC 6154 attributes on the special ones). */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse?: SpecialUse }> = [
  { name: 'INBOX' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
];

/**
 * The hierarchy delimiter of mailbox names, as the IMAP server gives them (downstream/imap/mailbox-names.ts):
 * export and import turn each level into a folder and back.
 */
export const HIERARCHY_DELIMITER = '/';

/** INBOX is one name in any case (RFC 3501 §5.1); every other name is case-sensitive. */
export function canonicalMailboxName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

export class Mailboxes {
  private readonly records = new Map<number, MailboxRecord>();
  private lastUidValidity = 0;
  private nextId = 1;

  constructor(private readonly sub: Pick<Sublevels, 'mailbox' | 'meta'>) {}

  /** Reads every mailbox record into memory (at open). */
  async load(): Promise<void> {
    for await (const record of this.sub.mailbox.values()) {
      // A mailbox from before the expunge history: nothing older than now is itemised. Stable until
      // the record is next written (which only happens with a new mod-sequence), and then stored.
      record.vanishedFloor ??= record.highestModseq;
      this.records.set(record.id, record);
      this.nextId = Math.max(this.nextId, record.id + 1);
    }
    const last = await this.sub.meta.get('lastUidValidity');
    this.lastUidValidity = typeof last === 'number' ? last : 0;
  }

  /** All mailboxes of an account, sorted by name (INBOX first). */
  list(account: string): MailboxRecord[] {
    const owner = account.toLowerCase();
    return [...this.records.values()]
      .filter((record) => record.account === owner)
      .sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The accounts that have mailboxes in this store. */
  accounts(): string[] {
    return [...new Set([...this.records.values()].map((record) => record.account))];
  }

  /**
   * Finds a mailbox by name; INBOX matches case-insensitively (RFC 3501 §5.1). With `txn`, a mailbox
   * that transaction added is found too.
   */
  find(account: string, name: string, txn?: Transaction): MailboxRecord | undefined {
    const owner = account.toLowerCase();
    const wanted = canonicalMailboxName(name);
    for (const record of this.records.values()) {
      if (record.account === owner && record.name === wanted) return record;
    }
    if (!txn) return undefined;
    for (const record of this.pendingRecords(txn).values()) {
      if (!this.records.has(record.id) && record.account === owner && record.name === wanted) return record;
    }
    return undefined;
  }

  get(mailboxId: number): MailboxRecord | undefined {
    return this.records.get(mailboxId);
  }

  require(mailboxId: number): MailboxRecord {
    const record = this.records.get(mailboxId);
    if (!record) throw new StoreError('not-found', 'no such mailbox');
    return record;
  }

  /** Adds a new, empty mailbox (`account` lowercased) with a fresh UIDVALIDITY. */
  add(txn: Transaction, account: string, name: string, specialUse?: SpecialUse): MailboxRecord {
    const record: MailboxRecord = {
      id: this.nextId++,
      account,
      name,
      uidValidity: this.newUidValidity(txn),
      uidNext: 1,
      highestModseq: 1,
      vanishedFloor: 0,
      createdAt: Date.now(),
      ...(specialUse ? { specialUse } : {}),
    };
    txn.put(this.sub.mailbox, mailboxKey(record.id), record);
    // Messages added in the same transaction (RENAME INBOX) update this very object.
    this.pendingRecords(txn).set(record.id, record);
    txn.afterCommit(() => this.records.set(record.id, record));
    txn.announce({ kind: 'mailbox-created', mailboxId: record.id, account, name });
    return record;
  }

  /** Removes a mailbox record (its messages and history are the other parts' to remove). */
  remove(txn: Transaction, record: MailboxRecord): void {
    txn.del(this.sub.mailbox, mailboxKey(record.id));
    txn.afterCommit(() => this.records.delete(record.id));
    txn.announce({ kind: 'mailbox-deleted', mailboxId: record.id, account: record.account, name: record.name });
  }

  /**
   * Checks a set of renames before any is made: every source exists, no target does or is named twice,
   * and INBOX (whose rename moves its messages instead) is renamed on its own.
   */
  checkRenames(account: string, renames: ReadonlyArray<{ from: string; to: string }>): Array<{ record: MailboxRecord; name: string }> {
    const planned = renames.map(({ from, to }) => {
      const record = this.find(account, from);
      if (!record) throw new StoreError('not-found', `mailbox ${from} does not exist`);
      if (this.find(account, to)) throw new StoreError('exists', `mailbox ${to} already exists`);
      return { record, name: canonicalMailboxName(to) };
    });
    if (new Set(planned.map(({ name }) => name)).size !== planned.length)
      throw new StoreError('exists', 'two mailboxes cannot get the same name');
    if (planned.length > 1 && planned.some(({ record }) => record.name === 'INBOX'))
      throw new StoreError('not-allowed', 'INBOX is renamed on its own');
    return planned;
  }

  /** Gives mailboxes new names; UIDVALIDITY is kept: the messages and their UIDs do not change. */
  rename(txn: Transaction, renames: ReadonlyArray<{ record: MailboxRecord; name: string }>): void {
    for (const { record, name } of renames) {
      const renamed: MailboxRecord = { ...record, name: canonicalMailboxName(name) };
      txn.put(this.sub.mailbox, mailboxKey(renamed.id), renamed);
      txn.afterCommit(() => this.records.set(renamed.id, renamed));
      txn.announce({ kind: 'mailbox-renamed', mailboxId: record.id, account: record.account, oldName: record.name, newName: renamed.name });
    }
  }

  /**
   * The copy of a mailbox record that a transaction changes (UIDNEXT, HIGHESTMODSEQ); written once at
   * commit time and swapped into memory after the batch is durable.
   */
  pending(txn: Transaction, mailbox: MailboxRecord): MailboxRecord {
    const records = this.pendingRecords(txn);
    const existing = records.get(mailbox.id);
    if (existing) return existing;
    const copy: MailboxRecord = { ...mailbox };
    records.set(copy.id, copy);
    txn.put(this.sub.mailbox, mailboxKey(copy.id), copy);
    txn.afterCommit(() => {
      if (this.records.has(copy.id)) this.records.set(copy.id, copy);
    }, 'first');
    return copy;
  }

  private pendingRecords(txn: Transaction): Map<number, MailboxRecord> {
    return txn.state(this, () => new Map<number, MailboxRecord>());
  }

  /** A fresh UIDVALIDITY: seconds since the epoch, but always larger than any given before (RFC 3501 §2.3.1.1). */
  private newUidValidity(txn: Transaction): number {
    const value = Math.max(Math.floor(Date.now() / 1000), this.lastUidValidity + 1);
    this.lastUidValidity = value;
    txn.put(this.sub.meta, 'lastUidValidity', value);
    return value;
  }
}
