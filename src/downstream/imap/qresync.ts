/**
 * QRESYNC (RFC 7162 §3.2): what a reconnecting client missed, in one round trip. SELECT/EXAMINE
 * (QRESYNC (...)) and UID FETCH ... (CHANGEDSINCE n VANISHED) both answer "which of the UIDs I know
 * were expunged since mod-sequence n" with VANISHED (EARLIER), before any FETCH responses (§3.2.6).
 *
 * The store keeps a bounded expunge history. When it still reaches back to n, the answer is exact;
 * when it does not, every UID the client asked about that no longer exists is reported (§3.2.6 note,
 * §5.1), narrowed by the client's message sequence match data (§3.2.5.2).
 */
import type { MailStore } from './backend.js';
import { ImapError } from './errors.js';
import type { ResponseOutput } from './output.js';
import type { SessionView } from './session-view.js';
import { STAR, type SequenceSet } from './wire/sequence-set.js';
import type { ArgReader } from './wire/args.js';
import { inRanges, mergeRanges, type UidRanges } from '../../store/index.js';

export type { UidRanges } from '../../store/index.js';

const MAX_UID = 0xffffffff;

/** The QRESYNC select parameter (§3.2.5): what the client cached. */
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  /** UIDs the client knows; absent means 1:<UIDNEXT-1>. */
  knownUids?: UidRanges;
  /** Message numbers and the UIDs the client has for them, pairwise, both ascending. */
  seqMatch?: { seqs: UidRanges; uids: UidRanges };
}

/**
 * `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"`, the cursor just
 * after `QRESYNC SP`. "*" is not allowed in any of the sets (§7).
 */
export function parseQresyncParams(args: ArgReader): QresyncParams {
  args.expect('(', 'the QRESYNC parameters in parentheses');
  const uidValidity = args.nzNumber('the cached UIDVALIDITY');
  args.space();
  // The grammar asks for a non-zero mod-sequence; 0 ("I know nothing") is taken as Dovecot takes it.
  const modseq = args.number('the cached mod-sequence', true);
  const params: QresyncParams = { uidValidity, modseq };
  if (args.acceptSpace()) {
    if (args.peek() !== 0x28) {
      params.knownUids = explicitRanges(args.sequenceSet(), 'known UIDs');
      if (args.acceptSpace()) params.seqMatch = parseSeqMatch(args);
    } else {
      params.seqMatch = parseSeqMatch(args);
    }
  }
  args.expect(')', 'the ")" closing the QRESYNC parameters');
  return params;
}

function parseSeqMatch(args: ArgReader): { seqs: UidRanges; uids: UidRanges } {
  args.expect('(', 'the sequence match data in parentheses');
  const seqs = ascendingRanges(args.sequenceSet(), 'message numbers');
  args.space();
  const uids = ascendingRanges(args.sequenceSet(), 'UIDs');
  args.expect(')', 'the ")" closing the sequence match data');
  if (count(seqs) !== count(uids)) throw ImapError.bad('QRESYNC sequence match data needs as many message numbers as UIDs');
  return { seqs, uids };
}

/** A set without "*", as merged ranges. */
function explicitRanges(set: SequenceSet, what: string): UidRanges {
  if (set.some(([from, to]) => from === STAR || to === STAR)) throw ImapError.bad(`"*" is not allowed in the QRESYNC ${what}`);
  return mergeRanges(set.map(([from, to]) => (from <= to ? [from, to] : [to, from])));
}

/** A set without "*" written in ascending order (§3.2.5.2), as ranges in that order. */
function ascendingRanges(set: SequenceSet, what: string): UidRanges {
  if (set.some(([from, to]) => from === STAR || to === STAR)) throw ImapError.bad(`"*" is not allowed in the QRESYNC ${what}`);
  const ranges = set.map(([from, to]): [number, number] => [from, to]);
  let last = 0;
  for (const [from, to] of ranges) {
    if (from > to || from <= last) throw ImapError.bad(`The QRESYNC ${what} must be in ascending order`);
    last = to;
  }
  return ranges;
}

function count(ranges: UidRanges): number {
  return ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0);
}

/** The UIDs in both sets. */
export function intersectRanges(a: UidRanges, b: UidRanges): UidRanges {
  const out: UidRanges = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const low = Math.max(a[i][0], b[j][0]);
    const high = Math.min(a[i][1], b[j][1]);
    if (low <= high) out.push([low, high]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

/** The UIDs of `ranges` that are not in `uids` (ascending). */
function withoutUids(ranges: UidRanges, uids: readonly { uid: number }[]): UidRanges {
  const out: UidRanges = [];
  let k = 0;
  for (const [from, to] of ranges) {
    let start = from;
    while (k < uids.length && uids[k].uid < from) k++;
    while (k < uids.length && uids[k].uid <= to) {
      if (uids[k].uid > start) out.push([start, uids[k].uid - 1]);
      start = uids[k].uid + 1;
      k++;
    }
    if (start <= to) out.push([start, to]);
  }
  return out;
}

/** Ranges as a sequence set: "1:3,7". */
export function formatRanges(ranges: UidRanges): string {
  return ranges.map(([from, to]) => (from === to ? String(from) : `${from}:${to}`)).join(',');
}

/**
 * The highest UID up to which the client provably knows every expunge (§3.2.5.2): pairs are checked
 * in order and the last one whose message number still holds that UID wins; the first mismatch stops.
 */
function seqMatchFloor(view: SessionView, seqMatch: { seqs: UidRanges; uids: UidRanges }): number {
  let floor = 0;
  let u = 0;
  let uid = seqMatch.uids[0]?.[0] ?? 0;
  for (const [from, to] of seqMatch.seqs) {
    for (let seq = from; seq <= to; seq++) {
      if (seq > view.exists || view.at(seq).uid !== uid) return floor;
      floor = uid;
      uid++;
      if (uid > seqMatch.uids[u][1]) {
        u++;
        if (u >= seqMatch.uids.length) return floor;
        uid = seqMatch.uids[u][0];
      }
    }
  }
  return floor;
}

/**
 * The UIDs to report as VANISHED (EARLIER): expunged after `sinceModseq`, among `known`. UIDs the
 * view still holds (expunged, but not yet reported to this session) are left out: the plain VANISHED
 * that the view sends when it may will name them.
 */
export async function vanishedEarlier(
  store: MailStore,
  view: SessionView,
  sinceModseq: number,
  known: UidRanges,
  seqMatch?: { seqs: UidRanges; uids: UidRanges },
): Promise<UidRanges> {
  const history = await store.vanishedSince(view.mailboxId, sinceModseq);
  // UIDs at or above UIDNEXT never existed: nothing to report there.
  const everUsed = view.mailbox.uidNext - 1;
  known = intersectRanges(known, everUsed > 0 ? [[1, everUsed]] : []);
  let candidates: UidRanges;
  if (history.complete) {
    candidates = intersectRanges(history.ranges, known);
  } else {
    const floor = seqMatch ? seqMatchFloor(view, seqMatch) : 0;
    candidates = floor > 0 ? intersectRanges(known, [[floor + 1, MAX_UID]]) : known;
  }
  return withoutUids(candidates, view.messages());
}

/** Writes `* VANISHED (EARLIER) ...` when there is anything to say. */
export function writeVanishedEarlier(out: ResponseOutput, ranges: UidRanges): void {
  if (ranges.length > 0) out.untagged(`VANISHED (EARLIER) ${formatRanges(ranges)}`);
}

/**
 * SELECT/EXAMINE (QRESYNC ...) after the usual responses (§3.2.5): when the UIDVALIDITY matches, the
 * expunges and flag changes since the client's mod-sequence among the UIDs it knows.
 */
export async function resynchronize(out: ResponseOutput, store: MailStore, view: SessionView, params: QresyncParams): Promise<void> {
  const mailbox = view.mailbox;
  if (params.uidValidity !== mailbox.uidValidity) return;
  const known = params.knownUids ?? (mailbox.uidNext > 1 ? [[1, mailbox.uidNext - 1]] : []);
  writeVanishedEarlier(out, await vanishedEarlier(store, view, params.modseq, known, params.seqMatch));
  const records = view.messages();
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (record.modseq <= params.modseq || !inRanges(known, record.uid)) continue;
    out.untagged(`${i + 1} FETCH (UID ${record.uid} FLAGS ${view.flagsOf(record)} MODSEQ (${record.modseq}))`);
    if (out.congested) await out.drain();
  }
}
