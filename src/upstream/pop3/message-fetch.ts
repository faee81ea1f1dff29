/**
 * One session's downloads: RETRs a batch of new messages (pipelined when the server allows), checks each one
 * before it may be stored, and stores them by group commit (ingest-batcher.ts). A message is stored only when
 *  - it ended with a status line after it (client.ts / connection.ts): a server that does not dot-stuff cuts a
 *    message at a lone "." and sends the rest where the next answer belongs — such a message is kept out of the
 *    store and tried again at the next polls (fetch-problems.ts), after the other new messages;
 *  - it is not shorter than its LIST size on a server whose sizes have proven exact (list-size-check.ts);
 *  - it is not a message we hold already under a UIDL the server has since changed (renamed-messages.ts): such
 *    a message renames its ledger entry instead.
 * A message too large for max_message_size is left on the server: LIST sizes catch most before any download,
 * the client's limit cuts the rest (and so an endless answer) at that size.
 */
import type { Logger } from '../../runtime/logger.js';
import type { IngestItem, PollerStore } from '../../store/index.js';
import { arrivalDateOf } from './arrival-date.js';
import type { Pop3Client } from './client.js';
import type { ListedMessage } from './deletion-policy.js';
import { Pop3Error, TOO_LARGE, TRUNCATED } from './errors.js';
import { megabytes } from '../../runtime/sizes.js';
import { MAX_CUT_SHORT_ATTEMPTS, type FetchProblems } from './fetch-problems.js';
import { IngestBatcher } from './ingest-batcher.js';
import type { ListSizeCheck } from './list-size-check.js';
import { LargeMessageGate, MessageSpool, ingestItem } from './message-spool.js';
import type { RenamedMessages } from './renamed-messages.js';

/**
 * How many fetched messages may wait for the store while it writes the previous batch (group commit, see
 * ingest-batcher.ts); beyond that the download pauses. Bounds memory to about this many bytes.
 */
const INGEST_WAITING_MESSAGES = 500;
const INGEST_WAITING_BYTES = 16 * 1024 * 1024;

export interface FetchContext {
  client: Pop3Client;
  store: PollerStore;
  account: string;
  /** max_message_size of the account. */
  limit: number;
  /** The number of the poll this session belongs to (a message cut short is tried once per poll). */
  poll: number;
  now: () => number;
  log: Logger;
  problems: FetchProblems;
  sizeCheck: ListSizeCheck;
  /** Vanished messages that a fresh one may turn out to be (the server changed UIDLs); undefined: none. */
  renamed: RenamedMessages | undefined;
  /** After each durable ingest batch. */
  onStored: (results: Array<{ uidl: string; duplicate: boolean }>) => void;
  /** A warning worth showing in status. */
  warn: (text: string) => void;
}

export interface FetchOutcome {
  /** Messages stored (duplicates not counted). */
  stored: number;
  /** Messages the batch dealt with one way or another (stored, left, renamed, deferred). */
  handled: number;
  /** Ledger entries renamed to the server's new UIDLs. */
  renamed: number;
  /** The connection was cut (a message too large, or cut short): the session cannot go on. */
  connectionLost: boolean;
}

export async function fetchMessages(
  ctx: FetchContext,
  batch: readonly ListedMessage[],
  sizes: ReadonlyMap<number, number>,
): Promise<FetchOutcome> {
  const outcome: FetchOutcome = { stored: 0, handled: 0, renamed: 0, connectionLost: false };
  const wanted: ListedMessage[] = [];
  for (const entry of batch) {
    const size = sizes.get(entry.msg);
    if (size !== undefined && size > ctx.limit) {
      leaveTooLarge(ctx, entry, { size, atLeast: false });
      outcome.handled++;
    } else {
      wanted.push(entry);
    }
  }
  const renames: Array<{ from: string; to: string }> = [];
  const retrieve = ctx.renamed ? await recogniseByHeader(ctx, ctx.renamed, wanted, sizes, renames) : wanted;
  outcome.handled += wanted.length - retrieve.length;

  const batcher = new IngestBatcher({
    store: ctx.store,
    account: ctx.account,
    maxMessages: INGEST_WAITING_MESSAGES,
    maxBytes: INGEST_WAITING_BYTES,
    onStored: (results) => {
      outcome.stored += results.filter((result) => !result.duplicate).length;
      ctx.onStored(results);
    },
  });
  const spools = new Map<number, MessageSpool>();
  const uidlByMsg = new Map<number, string>();
  const gate = new LargeMessageGate();
  let next = 0;
  try {
    // Each RETR confirmed by the UIDL of its message (message-stream.ts), when the server answers UIDL n.
    if (retrieve.length > 0 && (await ctx.client.answersUidlOf(retrieve[0].msg, retrieve[0].uidl))) {
      for (const entry of retrieve) uidlByMsg.set(entry.msg, entry.uidl);
    }
    await ctx.client.retrStream(
      retrieve.map((entry) => entry.msg),
      (msg) => {
        const spool = new MessageSpool({ spool: () => ctx.store.spoolBlob(), limit: ctx.limit, gate });
        spools.set(msg, spool);
        return spool;
      },
      async ({ msg }) => {
        const entry = retrieve[next];
        if (entry.msg !== msg) throw new Error(`RETR answers out of order: expected ${entry.msg}, got ${msg}`);
        next++;
        outcome.handled++;
        const spool = spools.get(msg)!;
        spools.delete(msg);
        const item = await checked(ctx, entry, spool, sizes.get(msg), renames);
        if (item === undefined) return;
        await batcher.add(item);
        if (item.spooled === undefined) return;
        // A large message is stored before the next one may be gathered: one in memory at a time.
        try {
          await batcher.drain();
        } finally {
          spool.release();
        }
      },
      (msg) => uidlByMsg.get(msg),
    );
  } catch (error) {
    if (!(error instanceof Pop3Error) || (error.code !== TOO_LARGE && error.code !== TRUNCATED) || next >= retrieve.length) throw error;
    // The connection is gone; the message it was reading is the one that failed.
    const entry = retrieve[next];
    const listSize = sizes.get(entry.msg);
    if (error.code === TOO_LARGE)
      leaveTooLarge(ctx, entry, { size: ctx.limit, atLeast: true, ...(listSize !== undefined ? { listSize } : {}) });
    else
      cutShort(ctx, entry, {
        reason: 'not-dot-stuffed',
        ...(listSize !== undefined ? { listSize } : {}),
        received: spools.get(entry.msg)?.size ?? 0,
      });
    outcome.handled++;
    outcome.connectionLost = true;
  } finally {
    await Promise.all([...spools.values()].map((spool) => spool.discard()));
    // What was fetched is stored even when the session failed: it is safe, and not fetched again.
    await batcher.drain().catch((error: unknown) => {
      ctx.log.error({ err: error }, 'storing fetched messages failed');
      throw error;
    });
    if (renames.length > 0) outcome.renamed = await saveRenames(ctx, renames);
  }
  return outcome;
}

/** TOP n 0 for fresh messages that may be renamed ones, matched by Message-ID and size; the rest are returned. */
async function recogniseByHeader(
  ctx: FetchContext,
  renamed: RenamedMessages,
  wanted: ListedMessage[],
  sizes: ReadonlyMap<number, number>,
  renames: Array<{ from: string; to: string }>,
): Promise<ListedMessage[]> {
  const candidates = renamed.worthHeader(wanted, sizes);
  if (candidates.length === 0) return wanted;
  const matched = new Set<number>();
  const byMsg = new Map(candidates.map((entry) => [entry.msg, entry]));
  await ctx.client.topMany(
    candidates.map((entry) => entry.msg),
    0,
    (msg, header) => {
      const match = renamed.matchHeader(sizes.get(msg), header);
      if (match === undefined) return;
      renames.push({ from: match.uidl, to: byMsg.get(msg)!.uidl });
      matched.add(msg);
    },
  );
  return wanted.filter((entry) => !matched.has(entry.msg));
}

/** The item to store for a message that came in whole, or undefined when it must not be stored (see top). */
async function checked(
  ctx: FetchContext,
  entry: ListedMessage,
  spool: MessageSpool,
  listSize: number | undefined,
  renames: Array<{ from: string; to: string }>,
): Promise<IngestItem | undefined> {
  const message = await spool.complete();
  const received = message.size;
  if (ctx.renamed !== undefined && !ctx.renamed.empty) {
    const match = ctx.renamed.matchContent(message.blobId());
    if (match !== undefined) {
      renames.push({ from: match.uidl, to: entry.uidl });
      await spool.discard();
      return undefined;
    }
  }
  if (ctx.sizeCheck.isShort(listSize, received)) {
    const blobId = message.blobId();
    const before = ctx.problems.cutShortRecord(entry.uidl);
    const again = before?.reason === 'shorter-than-list' && (before.lastBlobId === blobId || before.attempts >= MAX_CUT_SHORT_ATTEMPTS);
    if (!again) {
      cutShort(ctx, entry, { reason: 'shorter-than-list', ...(listSize !== undefined ? { listSize } : {}), received, blobId });
      await spool.discard();
      return undefined;
    }
    // The same bytes once more: the server's size is what is off, not the message.
    ctx.log.warn(
      { uidl: entry.uidl, listSize, received },
      'a message is shorter than its LIST size again, with the same content: stored as it came',
    );
  }
  ctx.sizeCheck.record(listSize, received);
  ctx.problems.resolved(entry.uidl);
  const item = ingestItem(entry.uidl, message);
  const arrived = arrivalDateOf(message.head, ctx.now());
  if (arrived !== undefined) item.internalDate = arrived;
  return item;
}

function leaveTooLarge(ctx: FetchContext, entry: ListedMessage, found: { size: number; atLeast: boolean; listSize?: number }): void {
  if (!ctx.problems.noteTooLarge(entry.uidl, found, ctx.now())) return;
  const shown = found.atLeast ? `more than ${megabytes(found.size)}` : megabytes(found.size);
  const listed = found.listSize !== undefined ? ` (its LIST size said ${megabytes(found.listSize)})` : '';
  const text = `a message of ${shown}${listed} is larger than max_message_size (${megabytes(ctx.limit)}) and stays on the server`;
  ctx.log.warn({ uidl: entry.uidl, size: found.size, atLeast: found.atLeast, listSize: found.listSize, limit: ctx.limit }, text);
  ctx.warn(text);
}

function cutShort(
  ctx: FetchContext,
  entry: ListedMessage,
  found: { reason: 'not-dot-stuffed' | 'shorter-than-list'; listSize?: number; received: number; blobId?: string },
): void {
  const attempts = ctx.problems.noteCutShort(entry.uidl, ctx.poll, found, ctx.now());
  const why =
    found.reason === 'not-dot-stuffed'
      ? 'the server ended it at a line holding only "." and sent the rest after the end (it does not dot-stuff, RFC 1939 §3)'
      : `it is ${found.received} bytes where the server's LIST said ${found.listSize}`;
  const next =
    found.reason === 'not-dot-stuffed' && attempts >= MAX_CUT_SHORT_ATTEMPTS ? 'left on the server' : 'trying again at the next poll';
  const text = `a message came cut short and was not stored: ${why}; ${next} (attempt ${attempts} of ${MAX_CUT_SHORT_ATTEMPTS})`;
  ctx.log.warn({ uidl: entry.uidl, reason: found.reason, listSize: found.listSize, received: found.received, attempts }, text);
  ctx.warn(text);
}

async function saveRenames(ctx: FetchContext, renames: Array<{ from: string; to: string }>): Promise<number> {
  const made = await ctx.store.renamePop3Uidls(ctx.account, renames);
  if (made > 0) {
    ctx.problems.noteUidlChanges(made, ctx.now());
    const text = `the server gave ${made} message${made === 1 ? '' : 's'} we already hold new UIDLs (RFC 1939 §7 says they must not change): recognised by content, not downloaded again`;
    ctx.log.warn({ renamed: made }, text);
    ctx.warn(text);
  }
  return made;
}
