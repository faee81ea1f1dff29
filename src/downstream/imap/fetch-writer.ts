/**
 * Streams FETCH responses, one message at a time: metadata comes from the session's view, the
 * message index and bytes from the store only for the message being written, and the writer waits
 * for the socket whenever its buffer is full. A mailbox of bodies is never in memory at once.
 *
 * Message bytes go out exactly as stored, as literals (RFC 3501 §6.4.5); `UID` is the first item
 * of every response to UID FETCH (some clients, Thunderbird among them, read it from there).
 */
import type { MessageRecord } from '../../store/index.js';
import type { MessageIndex } from '../../mime/index.js';
import { StoreError } from '../../store/index.js';
import type { MailStore } from './backend.js';
import type { BlobCache } from './blob-cache.js';
import { renderBodyStructure } from './fetch/bodystructure.js';
import { renderEnvelope } from './fetch/envelope.js';
import { extractSection, partial } from './fetch/section.js';
import type { FetchItem, SectionItem } from './fetch-items.js';
import type { ResponseOutput } from './output.js';
import type { SessionView } from './session-view.js';
import { formatInternalDate } from './wire/date-time.js';
import { TimeSlice } from '../../runtime/time-slice.js';

/** What to write for each message. */
export interface FetchPlan {
  items: readonly FetchItem[];
  /** Messages whose FLAGS must be shown although not asked for (\Seen was just set, §6.4.5). */
  flagsChanged: ReadonlySet<number>;
  /** CONDSTORE is on: those responses also carry UID and MODSEQ (RFC 7162 §3.2.4). */
  condstore?: boolean;
  /** The connection's turn on the event loop: 100,000 responses are written in turns. */
  slice?: TimeSlice;
}

/** How the FETCH went, for the tagged reply. */
export interface FetchResult {
  /** Messages that could not be read because another session expunged them (RFC 5530 EXPUNGEISSUED). */
  missing: number;
  /** UIDs of messages the store could not read (damaged on disk): left out, so the others are still served. */
  damaged: number[];
}

function needsIndex(items: readonly FetchItem[]): boolean {
  return items.some(
    (item) =>
      item.kind === 'ENVELOPE' ||
      item.kind === 'BODY' ||
      item.kind === 'BODYSTRUCTURE' ||
      (item.kind === 'section' && !isWholeMessage(item)),
  );
}

function isWholeMessage(item: SectionItem): boolean {
  return item.section.part.length === 0 && item.section.text === undefined;
}

/** A section's bytes as a literal (or "" when empty). */
function literal(bytes: Buffer): [string, Buffer | undefined] {
  return bytes.length === 0 ? ['""', undefined] : [`{${bytes.length}}\r\n`, bytes];
}

/** Messages whose indexes are read from the store together. */
const INDEX_BATCH = 128;

/** Where the writer reads what the view does not hold: indexes from the store, bytes through the cache. */
export interface FetchSource {
  store: Pick<MailStore, 'getIndexes'>;
  blobs: BlobCache;
}

/**
 * ENVELOPE, BODY and BODYSTRUCTURE as rendered for an index object, as binary strings (one character per
 * byte: header values may hold 8-bit bytes, which go out unchanged). The store keeps the indexes of the
 * working set in memory (the same objects, read after read), so a message fetched again by any session
 * is not rendered again; an entry goes when the store lets its index object go.
 */
const rendered = new WeakMap<MessageIndex, { envelope?: string; body?: string; bodystructure?: string }>();

function renderedEntry(index: MessageIndex): { envelope?: string; body?: string; bodystructure?: string } {
  let entry = rendered.get(index);
  if (!entry) rendered.set(index, (entry = {}));
  return entry;
}

function renderedEnvelope(index: MessageIndex): string {
  const entry = renderedEntry(index);
  return (entry.envelope ??= renderEnvelope(index).toString('latin1'));
}

function renderedStructure(index: MessageIndex, extended: boolean): string {
  const entry = renderedEntry(index);
  if (extended) return (entry.bodystructure ??= renderBodyStructure(index, true).toString('latin1'));
  return (entry.body ??= renderBodyStructure(index, false).toString('latin1'));
}

/** Section bytes up to this size join the response line; larger ones go to the socket as they are. */
const INLINE_LITERAL_BYTES = 8 * 1024;

/** Writes one FETCH response per sequence number, in order, waiting for the socket when it is full. */
export async function writeFetchResponses(
  out: ResponseOutput,
  { store, blobs }: FetchSource,
  view: SessionView,
  seqs: readonly number[],
  plan: FetchPlan,
): Promise<FetchResult> {
  const { items } = plan;
  const wantsIndex = needsIndex(items);
  const wantsBlob = items.some((item) => item.kind === 'section');
  const hasFlags = items.some((item) => item.kind === 'FLAGS');
  const hasUid = items.some((item) => item.kind === 'UID');
  const hasModseq = items.some((item) => item.kind === 'MODSEQ');
  const slice = plan.slice ?? new TimeSlice();
  let missing = 0;
  const damaged: number[] = [];
  // A keyword another session just set may show in these FLAGS: the client must hear of it first (§7.2.6).
  if (hasFlags || plan.flagsChanged.size > 0) view.announceNewKeywords(out);

  // Indexes are read a batch at a time: one store read per batch instead of one per message.
  let indexes: Array<MessageIndex | undefined | typeof DAMAGED> = [];
  for (let n = 0; n < seqs.length; n++) {
    const seq = seqs[n];
    const record = view.at(seq);
    if (wantsIndex && n % INDEX_BATCH === 0) {
      indexes = await readIndexes(
        store,
        seqs.slice(n, n + INDEX_BATCH).map((s) => view.at(s).blobId),
      );
    }
    const index = wantsIndex ? indexes[n % INDEX_BATCH] : undefined;
    if (index === DAMAGED) {
      damaged.push(record.uid);
      continue;
    }
    let raw: Buffer | undefined;
    if (wantsIndex && index === undefined) {
      // Expunged by another session and its bytes are gone: skip it and say so in the tagged reply.
      missing++;
      continue;
    }
    if (wantsBlob) {
      try {
        raw = blobs.peek(record.blobId) ?? (await blobs.get(record.blobId));
      } catch (err) {
        // Expunged by another session and its bytes are gone: skip it and say so in the tagged reply.
        if (err instanceof StoreError && err.code === 'not-found') {
          missing++;
          continue;
        }
        // Damaged on disk: this message gets no response, the others still do (the tagged NO says which).
        if (err instanceof StoreError && err.code === 'damaged') {
          damaged.push(record.uid);
          continue;
        }
        throw err;
      }
    }
    // The response as a binary string: protocol text is ASCII, rendered parts and small literals are bytes.
    let line = `* ${seq} FETCH (`;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i > 0) line += ' ';
      switch (item.kind) {
        case 'UID':
          line += `UID ${record.uid}`;
          break;
        case 'FLAGS':
          line += `FLAGS ${view.flagsOf(record)}`;
          break;
        case 'INTERNALDATE':
          line += `INTERNALDATE ${formatInternalDate(record.internalDate)}`;
          break;
        case 'RFC822.SIZE':
          line += `RFC822.SIZE ${record.size}`;
          break;
        case 'MODSEQ':
          line += `MODSEQ (${record.modseq})`;
          break;
        case 'ENVELOPE':
          line += `ENVELOPE ${renderedEnvelope(index!)}`;
          break;
        case 'BODY':
          line += `BODY ${renderedStructure(index!, false)}`;
          break;
        case 'BODYSTRUCTURE':
          line += `BODYSTRUCTURE ${renderedStructure(index!, true)}`;
          break;
        case 'section': {
          let bytes = isWholeMessage(item) ? raw! : extractSection(raw!, index!, item.section);
          if (item.partial) bytes = partial(bytes, item.partial.origin, item.partial.length);
          const [head, body] = literal(bytes);
          line += `${item.label} ${head}`;
          if (!body) break;
          if (body.length < INLINE_LITERAL_BYTES) line += body.toString('latin1');
          else {
            out.writeBinary(line);
            out.writeBytes(body);
            line = '';
          }
          break;
        }
      }
    }
    if (plan.flagsChanged.has(record.uid)) {
      // Always after at least one item: the item list is never empty.
      if (!hasFlags) line += ` FLAGS ${view.flagsOf(record)}`;
      if (plan.condstore && !hasUid) line += ` UID ${record.uid}`;
      if (plan.condstore && !hasModseq) line += ` MODSEQ (${record.modseq})`;
    }
    out.writeBinary(line + ')\r\n');
    if (out.shouldPause(slice)) await out.pause(slice);
  }
  return { missing, damaged };
}

/** Marks a message whose index could not be read because the store is damaged there. */
const DAMAGED: unique symbol = Symbol('damaged');

/** A batch of indexes; when the batch fails on damage, one at a time, so only the damaged ones drop out. */
async function readIndexes(store: FetchSource['store'], blobIds: string[]): Promise<Array<MessageIndex | undefined | typeof DAMAGED>> {
  try {
    return await store.getIndexes(blobIds);
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'damaged')) throw err;
    return Promise.all(
      blobIds.map((blobId) =>
        store.getIndexes([blobId]).then(
          ([index]): MessageIndex | undefined | typeof DAMAGED => index,
          (one: unknown): typeof DAMAGED => {
            if (one instanceof StoreError && one.code === 'damaged') return DAMAGED;
            throw one;
          },
        ),
      ),
    );
  }
}

/** Whether a record's flags lack \Seen (implicit \Seen candidates). */
export function lacksSeen(record: MessageRecord): boolean {
  return !record.flags.includes('\\Seen');
}
