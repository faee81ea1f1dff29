/**
 * Groups fetched messages into store ingests. Each `ingestPop3` call is one `{ sync: true }` batch (an fsync),
 * so storing messages in groups multiplies the ingest rate; a short deadline keeps new mail flowing to IMAP
 * sessions during a long sync instead of at its end. One group is written while the next one fills, and the
 * caller is held back when a second one is full, so memory stays bounded.
 *
 * Writes never overlap and keep the order of `add`; after a failed write the rest are dropped (not stored,
 * hence not in the ledger, hence never deleted upstream and fetched again later) and `drain` reports it.
 */
import type { IngestItem, Store } from '../../store/store.js';

export interface IngestBatcherOptions {
  store: Pick<Store, 'ingestPop3'>;
  account: string;
  /** Most messages per ingest batch. */
  maxMessages: number;
  /** Most bytes per ingest batch (a batch holds at least one message, whatever its size). */
  maxBytes: number;
  /** How long a message may wait for its group to fill before the group is written anyway. */
  maxDelayMs: number;
  /** Called after each durable batch with what the store did. */
  onStored: (results: Array<{ uidl: string; uid?: number; duplicate: boolean }>, items: IngestItem[]) => void;
}

export class IngestBatcher {
  private group: IngestItem[] = [];
  private groupBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The last write queued; every write waits for the one before it. Never rejects. */
  private tail: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(private readonly o: IngestBatcherOptions) {}

  /** Adds a message; resolves when the caller may fetch the next one. Rejects once a write failed. */
  async add(item: IngestItem): Promise<void> {
    this.throwIfFailed();
    this.group.push(item);
    this.groupBytes += item.raw.length;
    if (this.group.length >= this.o.maxMessages || this.groupBytes >= this.o.maxBytes) {
      await this.flush();
      this.throwIfFailed();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.o.maxDelayMs);
    }
  }

  /** Writes what is waiting and resolves once every write is durable; rejects with the first failure. */
  async drain(): Promise<void> {
    void this.flush();
    await this.tail;
    this.throwIfFailed();
  }

  /** Queues the current group; resolves when the write queued before it is done (backpressure). */
  private flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.group.length === 0) return Promise.resolve();
    const items = this.group;
    this.group = [];
    this.groupBytes = 0;
    const before = this.tail;
    this.tail = before.then(() => this.write(items));
    return before;
  }

  private async write(items: IngestItem[]): Promise<void> {
    if (this.failure !== undefined) return;
    try {
      const results = await this.o.store.ingestPop3(this.o.account, items);
      this.o.onStored(results, items);
    } catch (error) {
      this.failure = { error };
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
