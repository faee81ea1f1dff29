/**
 * The transaction and the one write queue of the store.
 *
 * Every store operation that writes is one `WriteQueue.run`: it waits for every earlier operation, lets the
 * parts (mailboxes, messages, blobs, ledger, outbox…) add their puts and deletes to one `Transaction`, and
 * then writes that transaction as one LevelDB batch (which operations queued side by side may share, see
 * `WriteQueue`). Only after the batch is written do the in-memory copies
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
 * without an earlier one. An fsync costs about a millisecond here: with every STORE and EXPUNGE synced, the
 * queue was saturated under imaptest's load (issue 15).
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

  /** Runs the steps that wait for everything to be added (WriteQueue only, before `commit`). */
  async prepare(): Promise<void> {
    for (const step of this.steps) await step();
  }

  /** Writes the batch (WriteQueue only), fsynced when `sync`. A failed LevelDB write is thrown as a BatchWriteError. */
  async commit(db: Level<string, unknown>, feed: ChangeFeed, sync: boolean): Promise<void> {
    try {
      if (this.ops.length > OPS_IN_ONE_GO) await this.writeInTurns(db, sync);
      else if (this.ops.length > 0) await writeEncoded(db, this.ops, sync);
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

/** What classic-level's own batch takes: keys with their sublevel's prefix, values in a format it stores. */
type EncodedOp = { type: 'put'; key: string; value: string | Uint8Array } | { type: 'del'; key: string };
interface EncodedBatch {
  status: string;
  _batch(operations: EncodedOp[], options: { sync: boolean }): Promise<void>;
}

/**
 * Writes a batch as abstract-level's public `batch()` would, without its per-operation work: it copies
 * each operation with the options merged in, looks its encodings up twice, and checks for hooks and
 * listeners the store never sets, which cost more than the write (about 100 against 35 µs for a batch
 * of four, measured). The keys get their sublevel's `prefix` and the values their sublevel's encoding,
 * then they go to `_batch`, the interface abstract-level has a backend (classic-level) implement. A
 * database that is not open takes the public way, which refuses the write as it should.
 */
function writeEncoded(db: Level<string, unknown>, ops: readonly BatchOp[], sync: boolean): Promise<void> {
  const backend = db as unknown as EncodedBatch;
  // A put of nothing is refused there too, with abstract-level's own error.
  const publicWay =
    backend.status !== 'open' || typeof backend._batch !== 'function' || ops.some((op) => op.type === 'put' && op.value == null);
  if (publicWay) return db.batch(ops as never, { sync } as never);
  const encoded = ops.map((op): EncodedOp => {
    const key = (op.sublevel as { prefix: string }).prefix + op.key;
    if (op.type === 'del') return { type: 'del', key };
    return {
      type: 'put',
      key,
      value: (op.sublevel as { valueEncoding(): { encode(value: unknown): string | Uint8Array } }).valueEncoding().encode(op.value),
    };
  });
  return backend._batch(encoded, { sync });
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

/** How an operation is queued (`WriteQueue.run`). */
export interface QueueOptions {
  /** Defaults to `sync`. */
  durability?: Durability;
  /**
   * The in-memory state the operation reads and changes, as keys (`m7:42`: message 42 of mailbox 7). An
   * operation that names them may share its batch with the operations queued right behind it that name
   * theirs, as long as no key is in two of them; one without them always has a batch of its own.
   */
  touches?: readonly string[];
}

/**
 * At most this many operations share one batch. Enough to take what queues up behind one fsync under
 * imaptest's ten clients; small enough that no operation waits long for the others' builds.
 */
const MAX_SHARED = 32;

interface Queued {
  build: (txn: Transaction) => unknown;
  durability: Durability;
  touches?: readonly string[];
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * The store's single write queue. Operations never interleave: each one's build sees everything every
 * earlier one did, and is told it is done only once that is written.
 *
 * Group commit. A batch costs far more than building it (the fsync, and on a busy machine the hand-off
 * to LevelDB's thread and back: 2-4 ms in all under imaptest's load), so one batch at a time held the
 * whole IMAP server to a few hundred writes a second (issue 15). So the operations that queued up while
 * a batch was being written are built, one after the other, into the next transaction, and written as
 * one batch (fsynced when any of them needs it). That is only right when none reads what an earlier one
 * in the same batch changed, because the in-memory state changes after the write: the parts that keep
 * pending state per transaction (mailbox records, blob references, expunge history) see each other's
 * changes, but a message list does not. Hence `touches` (touches.ts): operations share a batch only when
 * their keys are disjoint, so the outcome is the one of running them one by one in the group's order.
 * None of them has been told it is done when another is built, so they are concurrent and that order is
 * a right one, as long as operations with a key in common keep the order they came in.
 *
 * Should one of the builds fail, nothing is written and each operation of the group runs alone, so the
 * failure is only that operation's. A failed write fails them all, as it would fail each of them.
 */
export class WriteQueue {
  private readonly waiting: Queued[] = [];
  private draining?: Promise<void>;
  private closed = false;

  constructor(
    private readonly db: Level<string, unknown>,
    private readonly feed: ChangeFeed,
    private readonly guard?: WriteGuard,
  ) {}

  /**
   * Runs `build` after every earlier operation finished (or with the ones queued beside it, see
   * `touches`), then commits what it added, synced unless `durability` is `process`. If `build` throws,
   * nothing of it is written.
   */
  run<T>(build: (txn: Transaction) => Promise<T> | T, options: QueueOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        build,
        durability: options.durability ?? 'sync',
        touches: options.touches,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.draining ??= this.drain();
    });
  }

  /** Refuses new operations and waits for the ones queued (which are refused too, unless already running). */
  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
  }

  private async drain(): Promise<void> {
    // Never inside run(): the caller's own code goes on first, as with any promise.
    await undefined;
    while (this.waiting.length > 0) await this.execute(this.nextGroup());
    this.draining = undefined;
  }

  /**
   * The first waiting operation and the ones behind it that may share its batch. One may overtake an
   * operation left waiting only if they name no key in common: conflicting operations keep their order.
   * None overtakes an operation that names no keys.
   */
  private nextGroup(): Queued[] {
    const group = [this.waiting.shift()!];
    if (!group[0].touches) return group;
    const taken = new Set(group[0].touches);
    const passed = new Set<string>();
    for (let i = 0; i < this.waiting.length && group.length < MAX_SHARED;) {
      const next = this.waiting[i];
      if (!next.touches) break;
      if (next.touches.some((key) => taken.has(key) || passed.has(key))) {
        for (const key of next.touches) passed.add(key);
        i++;
        continue;
      }
      for (const key of next.touches) taken.add(key);
      group.push(next);
      this.waiting.splice(i, 1);
    }
    return group;
  }

  private async execute(group: readonly Queued[]): Promise<void> {
    const txn = new Transaction();
    const results: unknown[] = [];
    let built = false;
    try {
      if (this.closed) throw new StoreError('closed', 'the store is closed');
      await this.guard?.ready();
      for (const op of group) results.push(await op.build(txn));
      await txn.prepare();
      built = true;
      await txn.commit(
        this.db,
        this.feed,
        group.some((op) => op.durability === 'sync'),
      );
    } catch (err) {
      if (!built && group.length > 1) {
        for (const op of group) await this.execute([op]);
        return;
      }
      const explained = this.guard ? this.guard.failed(err, txn) : err;
      for (const op of group) op.reject(explained);
      return;
    }
    group.forEach((op, i) => op.resolve(results[i]));
  }
}
