/** The search criteria of RFC 3501 §6.4.4 (and MODSEQ, RFC 7162 §3.1.5) as a tree. */
import type { SequenceSet } from '../wire/sequence-set.js';

/** The address fields SEARCH has keys for (RFC 3501 §6.4.4). */
export type AddressField = 'from' | 'to' | 'cc' | 'bcc';

/** How a date criterion compares days. */
export type DateOp = 'before' | 'on' | 'since';

/** One search criterion (a tree for NOT, OR and groups). */
export type SearchKey =
  | { type: 'all' }
  /** ANSWERED/UNANSWERED, DELETED, DRAFT, FLAGGED, SEEN, KEYWORD/UNKEYWORD: the flag is (not) set. */
  | { type: 'flag'; flag: string; set: boolean }
  /** RECENT (set) or OLD (not set): \Recent in this session. */
  | { type: 'recent'; set: boolean }
  /** NEW: recent and not seen. */
  | { type: 'new' }
  | { type: 'internaldate'; op: DateOp; day: number }
  | { type: 'sentdate'; op: DateOp; day: number }
  | { type: 'size'; op: 'larger' | 'smaller'; octets: number }
  /** HEADER and SUBJECT (the field name lower-cased). */
  | { type: 'header'; field: string; value: string }
  /** FROM, TO, CC, BCC: any address of the field, however it is written (search/text.ts). */
  | { type: 'address'; field: AddressField; value: string }
  | { type: 'body'; value: string }
  | { type: 'text'; value: string }
  | { type: 'uid'; set: SequenceSet }
  | { type: 'seq'; set: SequenceSet }
  | { type: 'modseq'; modseq: number }
  | { type: 'not'; key: SearchKey }
  | { type: 'or'; left: SearchKey; right: SearchKey }
  | { type: 'and'; keys: SearchKey[] };
