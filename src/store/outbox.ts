/**
 * The outbox: submissions waiting for the provider (ARCHITECTURE.md, invariant 2). An entry holds the
 * envelope, the recipients still pending, delivered and refused, the retry state, and a reference to the
 * message's blob; the relay worker (upstream/smtp) records its progress here after every attempt.
 */
import { randomBytes } from 'node:crypto';
import type { BlobRef, Blobs } from './blobs.js';
import type { Sublevels } from './database.js';
import type { NewOutboxEntry, OutboxEntry } from './records.js';
import type { Transaction } from './transaction.js';

export class Outbox {
  constructor(
    private readonly sub: Pick<Sublevels, 'outbox'>,
    private readonly blobs: Blobs,
  ) {}

  /** Adds a submission and its blob (a reference to it) to the transaction. */
  enqueue(txn: Transaction, entry: NewOutboxEntry, blob: BlobRef): OutboxEntry {
    const now = Date.now();
    const record: OutboxEntry = {
      // Sortable by time, so the queue reads oldest first; the random part keeps ids unique.
      id: `${now.toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}`,
      account: entry.account.toLowerCase(),
      from: entry.from,
      recipients: [...entry.recipients],
      pending: [...entry.recipients],
      delivered: [],
      failed: [],
      blobId: blob.id,
      size: blob.size,
      createdAt: now,
      attempts: 0,
      nextAttemptAt: now,
    };
    this.blobs.addRef(txn, blob);
    txn.put(this.sub.outbox, record.id, record);
    txn.announce({ kind: 'outbox-changed', account: record.account, entryId: record.id, event: 'queued' });
    return record;
  }

  /** Every queued submission, oldest first (optionally of one account). */
  async list(account?: string): Promise<OutboxEntry[]> {
    const owner = account?.toLowerCase();
    const entries: OutboxEntry[] = [];
    for await (const value of this.sub.outbox.values()) {
      if (owner === undefined || value.account === owner) entries.push(value);
    }
    return entries;
  }

  async get(entryId: string): Promise<OutboxEntry | undefined> {
    return this.sub.outbox.get(entryId);
  }

  /** Saves the worker's progress on an entry. */
  update(txn: Transaction, entry: OutboxEntry): void {
    txn.put(this.sub.outbox, entry.id, entry);
    txn.announce({ kind: 'outbox-changed', account: entry.account, entryId: entry.id, event: 'updated' });
  }

  /** Takes an entry out of the queue, with its reference to the blob. */
  finish(txn: Transaction, entry: OutboxEntry): void {
    this.blobs.dropRef(txn, entry.blobId);
    txn.del(this.sub.outbox, entry.id);
    txn.announce({ kind: 'outbox-changed', account: entry.account, entryId: entry.id, event: 'finished' });
  }
}
