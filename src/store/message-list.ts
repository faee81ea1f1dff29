/**
 * The messages of one mailbox in UID order, held in memory. UIDs only grow (invariant 3), so appends go
 * at the end and lookups are a binary search.
 */
import type { MessageRecord } from './records.js';
import { indexOfUid } from './uid-search.js';

export class MessageList {
  private records: MessageRecord[];
  /**
   * Whether `records` has been handed out by all(). Only then must a change copy it first; changes in
   * a row (one transaction adding or flagging 10,000 messages) copy once, not once per message.
   */
  private shared = false;

  constructor(records: MessageRecord[]) {
    this.records = records;
  }

  /** Every record, ascending by UID. The array is replaced on change, so a caller's copy stays stable. */
  all(): readonly MessageRecord[] {
    this.shared = true;
    return this.records;
  }

  /** The array to change: a private copy if callers hold the current one. */
  private writable(): MessageRecord[] {
    if (this.shared) {
      this.records = this.records.slice();
      this.shared = false;
    }
    return this.records;
  }

  get length(): number {
    return this.records.length;
  }

  /** Position of a UID, or -1. */
  indexOf(uid: number): number {
    return indexOfUid(this.records, uid);
  }

  get(uid: number): MessageRecord | undefined {
    const position = this.indexOf(uid);
    return position < 0 ? undefined : this.records[position];
  }

  append(record: MessageRecord): void {
    const last = this.records[this.records.length - 1];
    if (last && last.uid >= record.uid) throw new Error(`UID ${record.uid} is not above ${last.uid}`);
    // Copy-on-write: sessions iterating the previous array are not disturbed.
    this.writable().push(record);
  }

  replace(record: MessageRecord): void {
    const position = this.indexOf(record.uid);
    if (position < 0) return;
    this.writable()[position] = record;
  }

  remove(uids: readonly number[]): void {
    const gone = new Set(uids);
    this.records = this.records.filter((record) => !gone.has(record.uid));
    this.shared = false;
  }
}
