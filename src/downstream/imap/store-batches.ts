/**
 * STORE, COPY, MOVE and EXPUNGE over many messages go to the store a batch of UIDs at a time. One store
 * call over 100,000 UIDs builds, encodes and commits 100,000 records in one go and then announces
 * 100,000 changes to every session, holding the event loop (every client, the poller) for seconds
 * (issue 11). In batches, each durable write is small, and the loop is free between them.
 *
 * What a batch boundary means for each command:
 *  - STORE: nothing RFC 3501 promises is lost (a STORE is not atomic across messages). The keyword
 *    limits are checked for the whole command before the first batch, so NO [LIMIT] still means
 *    nothing was changed (only a concurrent session adding keywords in between can still make a later
 *    batch fail).
 *  - COPY: RFC 3501 §6.4.7 wants a failed COPY to leave the target as it was, so the copies already
 *    made are expunged again before the NO.
 *  - MOVE: RFC 6851 §3.3 lets each message be moved or not; each batch is atomic.
 *  - EXPUNGE: each batch is its own expunge with its own mod-sequence (QRESYNC history stays exact).
 */
import type { MessageRecord } from '../../store/index.js';
import type { TimeSlice } from '../../runtime/time-slice.js';
import type { MailStore } from './backend.js';

/** UIDs per store call (one durable batch). Small enough that one batch costs a few milliseconds. */
export const UIDS_PER_BATCH = 1000;

function* batchesOf(uids: readonly number[]): Generator<readonly number[]> {
  for (let start = 0; start < uids.length; start += UIDS_PER_BATCH) yield uids.slice(start, start + UIDS_PER_BATCH);
}

/** Appends without spreading a large array into arguments. */
function appendAll<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

/** What storeFlags returns, over every batch. */
export interface StoreFlagsResult {
  changed: MessageRecord[];
  modifiedSince: number[];
}

/** `store.storeFlags` in batches; `afterBatch` sees each batch's changes as soon as they are durable. */
export async function storeFlagsInBatches(
  store: MailStore,
  slice: TimeSlice,
  mailboxId: number,
  uids: readonly number[],
  mode: 'set' | 'add' | 'remove',
  flags: readonly string[],
  options: { unchangedSince?: number },
  afterBatch: (changed: readonly MessageRecord[]) => void = () => undefined,
): Promise<StoreFlagsResult> {
  const result: StoreFlagsResult = { changed: [], modifiedSince: [] };
  for (const batch of batchesOf(uids)) {
    const { changed, modifiedSince } = await store.storeFlags(mailboxId, batch, mode, flags, options);
    afterBatch(changed);
    appendAll(result.changed, changed);
    appendAll(result.modifiedSince, modifiedSince);
    await slice.check();
  }
  return result;
}

/** What copyMessages and moveMessages return, over every batch. */
export interface TransferResult {
  uidValidity?: number;
  pairs: Array<[number, number]>;
  /** Whether some messages were gone (expunged by another session meanwhile). */
  incomplete: boolean;
}

/**
 * `store.copyMessages` in batches. When a message turns out to be gone, the copies made so far are
 * removed again and `incomplete` is set: an unsuccessful COPY leaves the target as it was.
 */
export async function copyInBatches(
  store: MailStore,
  slice: TimeSlice,
  sourceId: number,
  uids: readonly number[],
  targetId: number,
): Promise<TransferResult> {
  const result: TransferResult = { pairs: [], incomplete: false };
  for (const batch of batchesOf(uids)) {
    const { uidValidity, pairs } = await store.copyMessages(sourceId, batch, targetId);
    result.uidValidity = uidValidity;
    appendAll(result.pairs, pairs);
    if (pairs.length < batch.length) {
      await expungeInBatches(
        store,
        slice,
        targetId,
        result.pairs.map(([, target]) => target),
      );
      return { pairs: [], incomplete: true };
    }
    await slice.check();
  }
  return result;
}

/** `store.moveMessages` in batches; stops at the first batch in which messages were gone. */
export async function moveInBatches(
  store: MailStore,
  slice: TimeSlice,
  sourceId: number,
  uids: readonly number[],
  targetId: number,
): Promise<TransferResult> {
  const result: TransferResult = { pairs: [], incomplete: false };
  for (const batch of batchesOf(uids)) {
    const { uidValidity, pairs } = await store.moveMessages(sourceId, batch, targetId);
    result.uidValidity = uidValidity;
    appendAll(result.pairs, pairs);
    if (pairs.length < batch.length) {
      result.incomplete = true;
      return result;
    }
    await slice.check();
  }
  return result;
}

/** `store.expungeMessages` in batches; the UIDs actually removed. */
export async function expungeInBatches(store: MailStore, slice: TimeSlice, mailboxId: number, uids: readonly number[]): Promise<number[]> {
  const removed: number[] = [];
  for (const batch of batchesOf(uids)) {
    appendAll(removed, await store.expungeMessages(mailboxId, batch));
    await slice.check();
  }
  return removed;
}
