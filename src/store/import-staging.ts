/**
 * Staged imports: how `hotbridge import` adds ten thousand messages as one change. The messages' blobs go
 * into the store batch by batch, each held by a staging entry (a reference like any other, so the blob
 * stays); nothing is visible in any mailbox yet. The last step is one transaction that turns every staging
 * entry of the import into a message in its mailbox and drops the entry: the blob counts do not change, so
 * that batch holds only the small records. An import cut short (SIGKILL, a full disk) leaves only staging
 * entries, which the next open of the store drops with their blobs: the store is as before the import or
 * as after it, never half.
 */
import type { MessageIndex } from '../mime/index.js';
import type { Blobs } from './blobs.js';
import type { StagedMessage, Sublevels } from './database.js';
import type { Transaction } from './transaction.js';

export type { StagedMessage } from './database.js';

/** A message ready to stage: its bytes, hashed and indexed outside the write queue. */
export interface ImportItem {
  account: string;
  mailbox: string;
  flags: string[];
  internalDate: number;
  blob: { id: string; size: number; raw: Buffer; index: MessageIndex };
}

const pad10 = (n: number): string => n.toString().padStart(10, '0');

export class ImportStaging {
  constructor(
    private readonly sub: Pick<Sublevels, 'staging'>,
    private readonly blobs: Blobs,
  ) {}

  /** Adds items to an import under way (`first` is the number of the first of them within the import). */
  stage(txn: Transaction, importId: string, first: number, items: readonly ImportItem[]): void {
    items.forEach((item, i) => {
      this.blobs.addRef(txn, item.blob);
      const staged: StagedMessage = {
        account: item.account,
        mailbox: item.mailbox,
        flags: item.flags,
        internalDate: item.internalDate,
        blobId: item.blob.id,
        size: item.blob.size,
      };
      txn.put(this.sub.staging, `${importId}!${pad10(first + i)}`, staged);
    });
  }

  /** The staged messages of an import, in the order they were staged. */
  async entries(importId: string): Promise<Array<[key: string, message: StagedMessage]>> {
    const out: Array<[string, StagedMessage]> = [];
    for await (const entry of this.sub.staging.iterator({ gt: `${importId}!`, lt: `${importId}!~` })) out.push(entry);
    return out;
  }

  /** Drops staging entries (after they became messages, or to undo an import); the blob references go with them. */
  drop(txn: Transaction, entries: ReadonlyArray<[string, StagedMessage]>): void {
    for (const [key, staged] of entries) {
      txn.del(this.sub.staging, key);
      this.blobs.dropRef(txn, staged.blobId);
    }
  }

  /** Every staging entry of every import (what an interrupted import left behind). */
  async all(): Promise<Array<[string, StagedMessage]>> {
    const out: Array<[string, StagedMessage]> = [];
    for await (const entry of this.sub.staging.iterator()) out.push(entry);
    return out;
  }
}
