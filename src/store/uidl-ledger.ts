/**
 * The POP3 UIDL ledger: for each account, every UIDL ever fetched (RFC 1939 §7), with when it was fetched,
 * when its upstream copy was deleted and whether the user expunged the local copy.
 *
 * A UIDL enters the ledger in the same `{ sync: true }` batch as its message (ARCHITECTURE.md,
 * invariant 1): a UIDL in the ledger is a message the store holds, so the poller never fetches it twice
 * and may DELE it upstream. Entries leave only once the upstream copy is gone and the server no longer
 * lists it, so the ledger does not grow forever. Each account's ledger is read once, then kept in memory;
 * entries are replaced, never changed in place, so an entry a reader holds stays as it was.
 */
import type { Sublevels } from './database.js';
import { pop3Key, pop3Range, uidlFromPop3Key } from './keys.js';
import type { Pop3LedgerEntry } from './records.js';
import type { Transaction } from './transaction.js';

/**
 * An account's ledger as its readers see it: lookups, never the collection itself. The answers are those
 * of the ledger as it is at the moment of asking, so a poller that takes the view once per session also
 * sees what that session stored and marked.
 */
export interface UidlLedgerView {
  /** Whether the message with this UIDL is stored (and may be deleted upstream). */
  has(uidl: string): boolean;
  get(uidl: string): Readonly<Pop3LedgerEntry> | undefined;
  /** How many UIDLs the ledger holds. */
  readonly size: number;
  /** Every UIDL in the ledger. */
  uidls(): string[];
  /** The UIDLs whose upstream copy we deleted (QUIT confirmed it). */
  deletedUpstream(): string[];
}

/** The view over a ledger's entries (exported for tests that build a ledger by hand). */
export class LedgerView implements UidlLedgerView {
  constructor(private readonly entries: ReadonlyMap<string, Pop3LedgerEntry>) {}

  has(uidl: string): boolean {
    return this.entries.has(uidl);
  }

  get(uidl: string): Readonly<Pop3LedgerEntry> | undefined {
    return this.entries.get(uidl);
  }

  get size(): number {
    return this.entries.size;
  }

  uidls(): string[] {
    return [...this.entries.keys()];
  }

  deletedUpstream(): string[] {
    const gone: string[] = [];
    for (const [uidl, entry] of this.entries) if (entry.deletedUpstreamAt !== undefined) gone.push(uidl);
    return gone;
  }
}

export class UidlLedger {
  private readonly accounts = new Map<string, Map<string, Pop3LedgerEntry>>();

  constructor(private readonly sub: Pick<Sublevels, 'pop3'>) {}

  private readonly views = new Map<string, UidlLedgerView>();

  /** The ledger of an account (lowercased), read from disk the first time. */
  async view(account: string): Promise<UidlLedgerView> {
    const entries = await this.load(account);
    let view = this.views.get(account);
    if (!view) {
      view = new LedgerView(entries);
      this.views.set(account, view);
    }
    return view;
  }

  private async load(account: string): Promise<Map<string, Pop3LedgerEntry>> {
    const cached = this.accounts.get(account);
    if (cached) return cached;
    const ledger = new Map<string, Pop3LedgerEntry>();
    for await (const [key, value] of this.sub.pop3.iterator(pop3Range(account))) ledger.set(uidlFromPop3Key(key), value);
    // Another caller may have loaded it while we awaited; keep the first so nobody holds a stale copy.
    const raced = this.accounts.get(account);
    if (raced) return raced;
    this.accounts.set(account, ledger);
    return ledger;
  }

  /** Records a fetched message, in the transaction that stores it. */
  async recordFetched(txn: Transaction, account: string, entry: Pop3LedgerEntry): Promise<void> {
    const ledger = await this.load(account);
    txn.put(this.sub.pop3, pop3Key(account, entry.uidl), entry);
    txn.afterCommit(() => ledger.set(entry.uidl, entry));
  }

  /** Records that upstream copies are gone (after the QUIT that made DELE final). */
  markDeletedUpstream(txn: Transaction, account: string, uidls: readonly string[], at: number): Promise<void> {
    return this.update(txn, account, uidls, (entry) => ({ ...entry, deletedUpstreamAt: at }));
  }

  /** Records that the user expunged the local copies (delete_on_expunge acts on it). */
  markExpungedLocally(txn: Transaction, account: string, uidls: readonly string[], at: number): Promise<void> {
    return this.update(txn, account, uidls, (entry) => ({ ...entry, expungedLocallyAt: at }));
  }

  /**
   * Renames entries (the server gave messages we hold new UIDLs, renamed-messages.ts in upstream/pop3).
   * Skips a rename whose old UIDL is unknown or whose new one is taken; returns old -> new for those made.
   */
  async rename(txn: Transaction, account: string, renames: ReadonlyArray<{ from: string; to: string }>): Promise<Map<string, string>> {
    const ledger = await this.load(account);
    const done = new Map<string, string>();
    const taken = new Set<string>();
    for (const { from, to } of renames) {
      const entry = ledger.get(from);
      if (!entry || from === to || ledger.has(to) || done.has(from) || taken.has(to)) continue;
      const moved: Pop3LedgerEntry = { ...entry, uidl: to };
      txn.del(this.sub.pop3, pop3Key(account, from));
      txn.put(this.sub.pop3, pop3Key(account, to), moved);
      txn.afterCommit(() => {
        ledger.delete(from);
        ledger.set(to, moved);
      });
      done.set(from, to);
      taken.add(to);
    }
    return done;
  }

  /** Forgets UIDLs (the server no longer lists them and we deleted them there). */
  async forget(txn: Transaction, account: string, uidls: readonly string[]): Promise<void> {
    const ledger = await this.load(account);
    for (const uidl of uidls) {
      if (!ledger.has(uidl)) continue;
      txn.del(this.sub.pop3, pop3Key(account, uidl));
      txn.afterCommit(() => ledger.delete(uidl));
    }
  }

  private async update(
    txn: Transaction,
    account: string,
    uidls: readonly string[],
    change: (entry: Pop3LedgerEntry) => Pop3LedgerEntry,
  ): Promise<void> {
    const ledger = await this.load(account);
    for (const uidl of uidls) {
      const entry = ledger.get(uidl);
      if (!entry) continue;
      const updated = change(entry);
      txn.put(this.sub.pop3, pop3Key(account, uidl), updated);
      txn.afterCommit(() => ledger.set(uidl, updated));
    }
  }
}
