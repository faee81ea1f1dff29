/**
 * The expunge history of each mailbox, for QRESYNC (RFC 7162 §3.2.5, §5.3): which UIDs each expunge
 * removed, with its mod-sequence, written in the expunge's own batch and bounded per mailbox (see
 * vanished-log.ts for the in-memory form and its trimming).
 */
import type { Sublevels } from './database.js';
import { modseqFromVanishedKey, vanishedKey, vanishedRange } from './keys.js';
import type { MailboxRecord } from './records.js';
import type { Transaction } from './transaction.js';
import { flattenRanges, unflattenRanges, VanishedLog, type UidRanges, type VanishedEntry } from './vanished-log.js';

/**
 * How many UID ranges of expunge history each mailbox keeps for QRESYNC. One expunge of adjacent
 * messages is one range, so this is about the last 10,000 deletions of a client that removes one
 * message at a time; older ones collapse into the mailbox's `vanishedFloor` (RFC 7162 §5.3).
 */
export const VANISHED_HISTORY_LIMIT = 10_000;

/** What `vanishedSince` knows. */
export interface VanishedAnswer {
  /** False when the history no longer reaches back to the mod-sequence asked about. */
  complete: boolean;
  /** With `complete`: the UIDs expunged after that mod-sequence, as ascending ranges. */
  ranges: UidRanges;
}

export class ExpungeHistory {
  private readonly logs = new Map<number, VanishedLog>();

  constructor(
    private readonly sub: Pick<Sublevels, 'vanished'>,
    private readonly limit: number,
  ) {}

  private async load(mailboxId: number): Promise<VanishedLog> {
    const cached = this.logs.get(mailboxId);
    if (cached) return cached;
    const entries: VanishedEntry[] = [];
    for await (const [key, value] of this.sub.vanished.iterator(vanishedRange(mailboxId))) {
      entries.push({ modseq: modseqFromVanishedKey(key), ranges: unflattenRanges(value) });
    }
    const raced = this.logs.get(mailboxId);
    if (raced) return raced;
    const log = new VanishedLog(entries);
    this.logs.set(mailboxId, log);
    return log;
  }

  /**
   * Remembers an expunge in its own transaction. `pending` is the transaction's copy of the mailbox record
   * (already carrying the expunge's mod-sequence); keeps the history within its limit by forgetting the
   * oldest entries and raising the mailbox's floor to the newest one forgotten.
   */
  async record(txn: Transaction, pending: MailboxRecord, entry: VanishedEntry): Promise<void> {
    const log = await this.load(pending.id);
    const { forget, dropNew } = log.plan(entry.ranges.length, this.limit);
    let floor = pending.vanishedFloor ?? 0;
    for (const old of forget) {
      txn.del(this.sub.vanished, vanishedKey(pending.id, old.modseq));
      floor = Math.max(floor, old.modseq);
    }
    if (dropNew) floor = Math.max(floor, entry.modseq);
    else txn.put(this.sub.vanished, vanishedKey(pending.id, entry.modseq), flattenRanges(entry.ranges));
    pending.vanishedFloor = floor;
    txn.afterCommit(() => {
      if (!dropNew) log.add(entry);
      log.forgetUpTo(floor);
    });
  }

  /**
   * QRESYNC (RFC 7162 §3.2.5.1, §3.2.6): the UIDs expunged from a mailbox after mod-sequence `modseq`.
   * Not `complete` when the history has been trimmed past that point; the caller then reports every
   * UID it is asked about that no longer exists.
   */
  async since(mailbox: MailboxRecord, modseq: number): Promise<VanishedAnswer> {
    if (modseq >= mailbox.highestModseq) return { complete: true, ranges: [] };
    if (modseq < (mailbox.vanishedFloor ?? mailbox.highestModseq)) return { complete: false, ranges: [] };
    const log = await this.load(mailbox.id);
    return { complete: true, ranges: log.since(modseq) };
  }

  /** The history goes with its mailbox (RFC 7162 §5.3: it SHOULD be deleted). */
  async removeAll(txn: Transaction, mailboxId: number): Promise<void> {
    for await (const key of this.sub.vanished.keys(vanishedRange(mailboxId))) txn.del(this.sub.vanished, key);
    txn.afterCommit(() => this.logs.delete(mailboxId));
  }
}
