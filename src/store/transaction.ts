/**
 * The transaction and the one write queue of the store.
 *
 * Every store operation that writes is one `WriteQueue.run`: it waits for every earlier operation, lets the
 * parts (mailboxes, messages, blobs, ledger, outbox…) add their puts and deletes to one `Transaction`, and
 * then writes that transaction as one LevelDB batch. Only after the batch is written do the in-memory copies
 * change and the change feed hear of it, so a crash can never leave memory ahead of disk and an acknowledged
 * message survives it (ARCHITECTURE.md, invariants 1 and 2). Parts never write to LevelDB themselves.
 *
 * Two strengths of "written" (`Durability`). `sync`: LevelDB fsyncs its log before the batch counts as written
 * (every new message, copy, move, mailbox, ledger and outbox change). `process`: the batch is in the
 * operating system's hands when it counts as written, so it survives the daemon being killed at any moment
 * but not the last moments before a power cut or a kernel crash; for changes that cannot lose mail (flag
 * changes and expunges: at worst a message comes back or is unread again) and caches that can be recomputed.
 * It is Dovecot's `mail_fsync = optimized` rule. LevelDB's log is replayed in order, so a `process` batch
 * is made durable by the next `sync` one, and a power cut keeps a prefix of the operations, never a later one
 * without an earlier one. An fsync costs about a millisecond here and the queue runs one operation at a
 * time: with every STORE and EXPUNGE synced, the queue was saturated under imaptest's load (issue 15).
 */
import type { Level } from 'level';
import { TimeSlice } from '../runtime/time-slice.js';
import type { ChangeFeed, StoreChange } from './changes.js';
import { StoreError } from './errors.js';

/**
 * Above this many puts and deletes a batch is handed to LevelDB in turns. Encoding a batch (keys,
 * sublevel prefixes, JSON values) runs on the event loop; a transaction of 50,000 operations (the
 * ingest of 5,000 messages, a MOVE of thousands) would otherwise hold every client up while it is
 * encoded (issue 11). The batch is still written once, atomically and durably, after the last one.
 */
const OPS_IN_ONE_GO = 512;

/**
 * A sublevel of any encoding. abstract-level's typings accept no common supertype for sublevels with
 * different value encodings in one batch, hence `any` (the batch itself is checked by LevelDB).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySublevel = any;

type BatchOp = { type: 'put'; sublevel: AnySublevel; key: string; value: unknown } | { type: 'del'; sublevel: AnySublevel; key: string };

/** The writes of one operation, and what to do in memory once they are durable. */
export class Transaction {
  private readonly ops: BatchOp[] = [];
  private readonly effects: Array<() => void> = [];
  private readonly changes: StoreChange[] = [];
  private readonly steps: Array<() => Promise<void>> = [];
  private readonly local = new Map<object, unknown>();

  /**
   * Puts a value. An object is encoded when the batch is written, so a part may still change it in this
   * transaction (a mailbox's UIDNEXT grows with every message added).
   */
  put(sublevel: AnySublevel, key: string, value: unknown): void {
    this.ops.push({ type: 'put', sublevel, key, value });
  }

  del(sublevel: AnySublevel, key: string): void {
    this.ops.push({ type: 'del', sublevel, key });
  }

  /** Runs once the batch is written, in the order given (`first`: before the others). */
  afterCommit(effect: () => void, order: 'first' | 'last' = 'last'): void {
    if (order === 'first') this.effects.unshift(effect);
    else this.effects.push(effect);
  }

  /** Announces a change on the feed once the batch is written. */
  announce(change: StoreChange): void {
    this.changes.push(change);
  }

  /**
   * A step that runs just before the batch is written, after everything else was added: the blobs settle
   * their reference counts here, once per transaction however many messages changed.
   */
  beforeWrite(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /** State a part keeps for the length of this transaction (its pending mailbox records, blob counts). */
  state<T>(owner: object, create: () => T): T {
    let value = this.local.get(owner) as T | undefined;
    if (value === undefined) {
      value = create();
      this.local.set(owner, value);
    }
    return value;
  }

  /** Writes the batch (WriteQueue only), fsynced when `sync`. A failed LevelDB write is thrown as a BatchWriteError. */
  async commit(db: Level<string, unknown>, feed: ChangeFeed, sync: boolean): Promise<void> {
    for (const step of this.steps) await step();
    try {
      if (this.ops.length > OPS_IN_ONE_GO) await this.writeInTurns(db, sync);
      else if (this.ops.length > 0) await db.batch(this.ops as never, { sync } as never);
    } catch (err) {
      throw new BatchWriteError(err);
    }
    this.applied(feed);
  }

  /** What happens once the batch is written (also when a write reported as failed turns out to have landed). */
  applied(feed: ChangeFeed): void {
    for (const effect of this.effects) effect();
    for (const change of this.changes) feed.publish(change);
  }

  /**
   * The same batch through LevelDB's chained batch, its operations added a slice of the event loop at a
   * time. Nothing is visible before write(): readers keep seeing the state before the transaction, and
   * the write queue holds every other writer back meanwhile.
   */
  private async writeInTurns(db: Level<string, unknown>, sync: boolean): Promise<void> {
    const batch = db.batch();
    const slice = new TimeSlice();
    try {
      for (const op of this.ops) {
        if (slice.due()) await slice.yield();
        if (op.type === 'put') batch.put(op.key, op.value as never, { sublevel: op.sublevel } as never);
        else batch.del(op.key, { sublevel: op.sublevel } as never);
      }
    } catch (err) {
      await batch.close();
      throw err;
    }
    await batch.write({ sync } as never);
  }

  /** The last put of the batch: read back after a reopen, it tells whether a failed write landed after all. */
  witness(): { sublevel: AnySublevel; key: string; value: unknown } | undefined {
    for (let i = this.ops.length - 1; i >= 0; i--) {
      const op = this.ops[i];
      if (op.type === 'put') return op;
    }
    return undefined;
  }
}

/** LevelDB refused a batch (a full disk, an I/O error): nothing of it is visible in this process. */
export class BatchWriteError extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = 'BatchWriteError';
  }
}

/**
 * Watches over the writes: before an operation it may recover the database from an earlier failed write
 * (or refuse at once while that cannot work yet); a failed operation's error passes through it to be
 * explained (write-recovery.ts).
 */
export interface WriteGuard {
  ready(): Promise<void>;
  failed(err: unknown, txn: Transaction): unknown;
}

/** How far a batch must have gone before its operation counts as done (see the top of this file). */
export type Durability = 'sync' | 'process';

/** The store's single write queue: operations never interleave, each commits once. */
export class WriteQueue {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: Level<string, unknown>,
    private readonly feed: ChangeFeed,
    private readonly guard?: WriteGuard,
  ) {}

  /**
   * Runs `build` after every earlier operation finished, then commits what it added as one batch, synced
   * unless `durability` is `process`. If `build` throws, nothing is written.
   */
  run<T>(build: (txn: Transaction) => Promise<T> | T, options: { durability?: Durability } = {}): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.closed) throw new StoreError('closed', 'the store is closed');
      await this.guard?.ready();
      const txn = new Transaction();
      try {
        const result = await build(txn);
        await txn.commit(this.db, this.feed, (options.durability ?? 'sync') === 'sync');
        return result;
      } catch (err) {
        throw this.guard ? this.guard.failed(err, txn) : err;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Refuses new operations and waits for the ones queued. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
  }
}
