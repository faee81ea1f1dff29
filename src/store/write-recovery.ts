/**
 * Recovery from a failed write. After LevelDB fails a write (a full disk above all) it keeps failing every
 * later one — a failed compaction's error is sticky, and a log that ended in a torn record must not be
 * written after — until the database is reopened. So the first failed batch puts the store in a fault
 * state; the next operation through the write queue first reopens the database, and only when that
 * works does it go ahead. While the disk stays full that would fail at once, so writes are refused without
 * trying until the file system has room again (checked every few seconds); then the store reopens by
 * itself and says so (`onHealth`), and the daemon wakes the poller and the outbox.
 *
 * Nothing of a failed batch is visible in this process (LevelDB applies a batch to memory only after its
 * log record is written), so the in-memory state stays right. The one exception is a log record that was
 * written but whose sync failed: it may reappear when the database is reopened. The failed transaction's
 * last put is read back after the reopen, and if it is there, the transaction's in-memory effects run
 * late, so memory matches disk again.
 */
import { EventEmitter } from 'node:events';
import type { ChangeFeed } from './changes.js';
import type { Database } from './database.js';
import { StoreError, type StoreFaultCode } from './errors.js';
import { diskFullText, explainFault, freeBytes, levelMessage } from './store-health.js';
import { BatchWriteError, type Transaction, type WriteGuard, type WriteQueue } from './transaction.js';

/** Room the file system needs before the store tries to reopen: LevelDB writes its memory table (≤ 4 MB) and a new log. */
export const RECOVERY_FREE_BYTES = 8 * 1024 * 1024;
/** How often a full disk is checked for room. */
const SPACE_CHECK_MS = 5000;
/** How often other faults (damage, permissions) retry a reopen. */
const RETRY_REOPEN_MS = 60_000;

/** The store's health, for status and doctor. */
export interface StoreHealth {
  state: 'ok' | StoreFaultCode;
  /** What is wrong, in words (absent when all is well). */
  text?: string;
  /** Since when (ISO 8601). */
  since?: string;
}

interface Fault {
  code: StoreFaultCode;
  error: StoreError;
  since: number;
  triedAt: number;
  /** The transaction whose write failed, to check after the reopen whether it landed after all. */
  txn?: Transaction;
}

export class WriteRecovery implements WriteGuard {
  private fault?: Fault;
  private queue?: WriteQueue;
  private timer?: NodeJS.Timeout;
  private readonly events = new EventEmitter();

  constructor(
    private readonly database: Database,
    private readonly feed: ChangeFeed,
  ) {}

  /** The queue whose operations this guards (set once, right after both exist). */
  attach(queue: WriteQueue): void {
    this.queue = queue;
  }

  health(): StoreHealth {
    if (!this.fault) return { state: 'ok' };
    const text = this.fault.code === 'no-space' ? diskFullText(this.database.dataDir) : this.fault.error.message;
    return { state: this.fault.code, text, since: new Date(this.fault.since).toISOString() };
  }

  /** Calls `listener` whenever the health changes (a fault, or recovery); returns the unsubscribe function. */
  onHealth(listener: (health: StoreHealth) => void): () => void {
    this.events.on('health', listener);
    return () => this.events.off('health', listener);
  }

  async ready(): Promise<void> {
    const fault = this.fault;
    if (!fault) return;
    if (fault.code === 'no-space') {
      const free = freeBytes(this.database.dataDir);
      if (free !== undefined && free < RECOVERY_FREE_BYTES) throw new StoreError('no-space', diskFullText(this.database.dataDir));
      if (free === undefined && Date.now() - fault.triedAt < RETRY_REOPEN_MS) throw fault.error;
    } else if (Date.now() - fault.triedAt < RETRY_REOPEN_MS) {
      throw fault.error;
    }
    await this.recover(fault);
  }

  failed(err: unknown, txn: Transaction): unknown {
    const { dataDir, location } = this.database;
    if (!(err instanceof BatchWriteError)) return explainFault(err, dataDir, location) ?? err;
    const explained =
      explainFault(err.cause, dataDir, location) ??
      new StoreError('unavailable', `the store in ${location} could not write (LevelDB: ${levelMessage(err.cause)})`);
    const code: StoreFaultCode = isFault(explained.code) ? explained.code : 'unavailable';
    const now = Date.now();
    this.fault = { code, error: explained, since: this.fault?.since ?? now, triedAt: now, txn };
    this.events.emit('health', this.health());
    if (code === 'no-space') this.watchForSpace();
    return explained;
  }

  /** Stops the space check (the store is closing). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async recover(fault: Fault): Promise<void> {
    fault.triedAt = Date.now();
    try {
      await this.database.reopen();
    } catch (err) {
      fault.error =
        explainFault(err, this.database.dataDir, this.database.location) ??
        new StoreError('unavailable', `the store in ${this.database.location} could not be reopened (LevelDB: ${levelMessage(err)})`);
      throw fault.error;
    }
    if (fault.txn && (await this.landed(fault.txn))) fault.txn.applied(this.feed);
    this.fault = undefined;
    this.close();
    this.events.emit('health', this.health());
  }

  /** Whether a batch reported as failed is in the database after all (its last put reads back as written). */
  private async landed(txn: Transaction): Promise<boolean> {
    const witness = txn.witness();
    if (!witness) return false;
    try {
      const stored: unknown = await witness.sublevel.get(witness.key);
      if (stored === undefined) return false;
      if (Buffer.isBuffer(stored) && Buffer.isBuffer(witness.value)) return stored.equals(witness.value);
      return JSON.stringify(stored) === JSON.stringify(witness.value);
    } catch {
      return false;
    }
  }

  /** While the disk is full, looks for room every few seconds and recovers as soon as there is enough. */
  private watchForSpace(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const free = freeBytes(this.database.dataDir);
      if (!this.fault || free === undefined || free < RECOVERY_FREE_BYTES) return;
      // An empty operation: the queue's guard (ready) reopens the database before it.
      this.queue?.run(() => undefined).catch(() => undefined);
    }, SPACE_CHECK_MS);
    this.timer.unref();
  }
}

function isFault(code: string): code is StoreFaultCode {
  return code === 'no-space' || code === 'damaged' || code === 'unwritable' || code === 'unavailable';
}
