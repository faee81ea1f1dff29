/**
 * Runs SEARCH criteria over the session's view. Flags, dates, sizes, UIDs and sequence numbers come
 * from the message records; header and text keys from the stored message index through the MIME
 * module's matchers (search/text.ts), never from the raw message. The index is loaded only for
 * messages the cheap keys have not already decided.
 */
import type { MessageIndex } from '../../../mime/index.js';
import { inRanges } from '../../../store/index.js';
import type { MessageRecord } from '../../../store/index.js';
import type { MailStore } from '../backend.js';
import { hasFlag } from '../flags.js';
import type { SessionView } from '../session-view.js';
import { dayOf } from '../wire/date-time.js';
import { resolveSequenceSet } from '../wire/sequence-set.js';
import type { DateOp, SearchKey } from './keys.js';
import { anyKey } from './parse.js';
import { addressFieldContains, bodyContains, headerContains, textContains } from './text.js';

/** A criterion with its sequence sets resolved against the view once, before the messages are scanned. */
type Prepared =
  | Exclude<SearchKey, { type: 'uid' | 'seq' | 'not' | 'or' | 'and' }>
  | { type: 'uid' | 'seq'; ranges: Array<[number, number]> }
  | { type: 'not'; key: Prepared }
  | { type: 'or'; left: Prepared; right: Prepared }
  | { type: 'and'; keys: Prepared[] };

interface Candidate {
  seq: number;
  record: MessageRecord;
  recent: boolean;
}

function prepare(key: SearchKey, view: SessionView): Prepared {
  switch (key.type) {
    case 'seq':
      return { type: 'seq', ranges: resolveSequenceSet(key.set, view.exists) };
    case 'uid': {
      const last = view.exists > 0 ? view.at(view.exists).uid : 0;
      return { type: 'uid', ranges: resolveSequenceSet(key.set, last) };
    }
    case 'not':
      return { type: 'not', key: prepare(key.key, view) };
    case 'or':
      return { type: 'or', left: prepare(key.left, view), right: prepare(key.right, view) };
    case 'and':
      return { type: 'and', keys: key.keys.map((k) => prepare(k, view)) };
    default:
      return key;
  }
}

function compareDay(day: number, op: DateOp, wanted: number): boolean {
  if (op === 'before') return day < wanted;
  if (op === 'on') return day === wanted;
  return day >= wanted;
}

/** true/false, or undefined when the answer needs the message index and it is not loaded yet. */
function matches(key: Prepared, message: Candidate, index: MessageIndex | undefined): boolean | undefined {
  const { record } = message;
  switch (key.type) {
    case 'all':
      return true;
    case 'flag':
      return hasFlag(record.flags, key.flag) === key.set;
    case 'recent':
      return message.recent === key.set;
    case 'new':
      return message.recent && !hasFlag(record.flags, '\\Seen');
    case 'internaldate':
      return compareDay(dayOf(record.internalDate), key.op, key.day);
    case 'size':
      return key.op === 'larger' ? record.size > key.octets : record.size < key.octets;
    case 'uid':
      return inRanges(key.ranges, record.uid);
    case 'seq':
      return inRanges(key.ranges, message.seq);
    case 'modseq':
      return record.modseq >= key.modseq;
    case 'sentdate':
      if (!index) return undefined;
      // A message without a readable Date: is dated by its arrival, as Dovecot does.
      return compareDay(index.sentDay ?? dayOf(record.internalDate), key.op, key.day);
    case 'header':
      return index ? headerContains(index, key.field, key.value) : undefined;
    case 'address':
      return index ? addressFieldContains(index, key.field, key.value) : undefined;
    case 'body':
      return index ? bodyContains(index, key.value) : undefined;
    case 'text':
      return index ? textContains(index, key.value) : undefined;
    case 'not': {
      const inner = matches(key.key, message, index);
      return inner === undefined ? undefined : !inner;
    }
    case 'or': {
      const left = matches(key.left, message, index);
      if (left === true) return true;
      const right = matches(key.right, message, index);
      if (right === true) return true;
      return left === undefined || right === undefined ? undefined : false;
    }
    case 'and': {
      let unknown = false;
      for (const part of key.keys) {
        const result = matches(part, message, index);
        if (result === false) return false;
        if (result === undefined) unknown = true;
      }
      return unknown ? undefined : true;
    }
  }
}

/** Messages whose index is read from the store in one batch. */
const INDEX_BATCH = 256;

/** The sequence numbers (ascending) of the messages in the view that match. */
export async function searchView(store: MailStore, view: SessionView, criteria: SearchKey): Promise<number[]> {
  const key = prepare(criteria, view);
  // BODY and TEXT read the decoded body text, which the store keeps apart from the rest of the index.
  const text = anyKey(criteria, (leaf) => leaf.type === 'body' || leaf.type === 'text');
  const found: number[] = [];
  for (let start = 1; start <= view.exists; start += INDEX_BATCH) {
    // Other sessions get their turn between batches: one SEARCH over a large mailbox must not hold the
    // event loop (and every other client) for its whole duration.
    if (start > 1) await new Promise<void>((resolve) => setImmediate(resolve));
    const end = Math.min(view.exists, start + INDEX_BATCH - 1);
    // The cheap keys first; the index is read, in one batch, only for messages they left undecided.
    const undecided: Candidate[] = [];
    for (let seq = start; seq <= end; seq++) {
      const record = view.at(seq);
      const candidate: Candidate = { seq, record, recent: view.isRecent(record.uid) };
      const result = matches(key, candidate, undefined);
      if (result === undefined) undecided.push(candidate);
      else if (result) found.push(seq);
    }
    if (undecided.length === 0) continue;
    // A message expunged meanwhile has no index any more: it matches nothing that needs its content.
    const indexes = await store.getIndexes(
      undecided.map((candidate) => candidate.record.blobId),
      { text },
    );
    undecided.forEach((candidate, i) => {
      const index = indexes[i];
      if (index && matches(key, candidate, index) === true) found.push(candidate.seq);
    });
  }
  return found.sort((a, b) => a - b);
}
