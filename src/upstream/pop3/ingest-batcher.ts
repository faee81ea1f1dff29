/**
 * Stores fetched messages by group commit. Each `ingestPop3` call is one `{ sync: true }` batch (an fsync), so
 * while one batch is being written the messages that arrive meanwhile wait, and go together in the next one:
 * on a fast disk every message is stored at once (new mail reaches IMAP sessions during a long sync, not at its
 * end); on a slow disk batches grow and the download is not held up by one fsync per message. The caller is
 * held back only when the waiting group reaches its cap, so memory stays bounded.
 *
 * Writes never overlap and keep the order of `add`; after a failed write the rest are dropped (not stored,
 * hence not in the ledger, hence never deleted upstream and fetched again later) and `drain` reports it.
 */
import type { IngestItem, IngestResult, PollerStore } from '../../store/index.js';

export interface IngestBatcherOptions {
  store: Pick<PollerStore, 'ingestPop3'>;
  account: string;
  /** Most messages waiting (and so per batch) before `add` waits for the write in progress. */
  maxMessages: number;
  /** Most bytes waiting before `add` waits (a batch holds at least one message, whatever its size). */
  maxBytes: number;
  /** Called after each durable batch with what the store did. */
  onStored: (results: IngestResult[], items: IngestItem[]) => void;
}

export class IngestBatcher {
  private group: IngestItem[] = [];
  private groupBytes = 0;
  /** The write loop while it runs: it writes groups until none is waiting. Never rejects. */
  private writing: Promise<void> | undefined;
  /** The one batch being written now. Never rejects. */
  private current: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(private readonly options: IngestBatcherOptions) {}

  /** Adds a message; resolves when the caller may fetch the next one. Rejects once a write failed. */
  async add(item: IngestItem): Promise<void> {
    this.throwIfFailed();
    this.group.push(item);
    // A spooled message is on disk already: only its record waits here.
    this.groupBytes += item.raw?.length ?? 0;
    if (this.writing === undefined) {
      this.writing = this.writeLoop();
      return;
    }
    // The loop takes the waiting group as soon as the batch in progress is durable.
    while (this.writing !== undefined && (this.group.length >= this.options.maxMessages || this.groupBytes >= this.options.maxBytes)) {
      await this.current;
    }
    this.throwIfFailed();
  }

  /** Resolves once everything added is durable; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.writing;
    this.throwIfFailed();
  }

  private async writeLoop(): Promise<void> {
    // Let the caller's synchronous work finish first (it may add more at once).
    await Promise.resolve();
    while (this.group.length > 0 && this.failure === undefined) {
      const items = this.group;
      this.group = [];
      this.groupBytes = 0;
      this.current = this.write(items);
      await this.current;
    }
    this.group = [];
    this.groupBytes = 0;
    this.writing = undefined;
  }

  private async write(items: IngestItem[]): Promise<void> {
    try {
      const results = await this.options.store.ingestPop3(this.options.account, items);
      this.options.onStored(results, items);
    } catch (error) {
      this.failure ??= { error };
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
