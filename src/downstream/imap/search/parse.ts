/**
 * Parses SEARCH criteria (RFC 3501 §6.4.4): keys in sequence are ANDed, OR takes two keys, NOT one,
 * parentheses group. String arguments are decoded from the declared charset (UTF-8 or US-ASCII).
 */
import { ImapError } from '../errors.js';
import type { ArgReader } from '../wire/args.js';
import type { AddressField, DateOp, SearchKey } from './keys.js';

/** Nesting deeper than this is refused: a 64 KiB line of "NOT NOT NOT ..." must not exhaust the stack. */
const MAX_DEPTH = 64;
/**
 * More keys than this are refused: every key is evaluated for every message, so 16,000 keys on a
 * 20,000-message mailbox would be 320 million tests for one command. Real clients send a handful.
 */
export const MAX_SEARCH_KEYS = 1_000;

/** Keys read so far in one SEARCH command. */
interface ParseState {
  keys: number;
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  UNANSWERED: ['\\Answered', false],
  DELETED: ['\\Deleted', true],
  UNDELETED: ['\\Deleted', false],
  DRAFT: ['\\Draft', true],
  UNDRAFT: ['\\Draft', false],
  FLAGGED: ['\\Flagged', true],
  UNFLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', true],
  UNSEEN: ['\\Seen', false],
};

const DATE_KEYS: Record<string, ['internaldate' | 'sentdate', DateOp]> = {
  BEFORE: ['internaldate', 'before'],
  ON: ['internaldate', 'on'],
  SINCE: ['internaldate', 'since'],
  SENTBEFORE: ['sentdate', 'before'],
  SENTON: ['sentdate', 'on'],
  SENTSINCE: ['sentdate', 'since'],
};

const ADDRESS_KEYS = new Set(['FROM', 'TO', 'CC', 'BCC']);

/** Reads one or more keys up to the end of the command; a single key is returned as it is. */
export function parseSearchKeys(args: ArgReader): SearchKey {
  const state: ParseState = { keys: 0 };
  const keys: SearchKey[] = [parseKey(args, 0, state)];
  while (args.acceptSpace()) keys.push(parseKey(args, 0, state));
  args.end();
  return keys.length === 1 ? keys[0] : { type: 'and', keys };
}

function text(args: ArgReader): string {
  // CHARSET is UTF-8 or US-ASCII (the only ones accepted), and US-ASCII is a subset of UTF-8.
  return args.astring('a search string').toString('utf8');
}

function parseKey(args: ArgReader, depth: number, state: ParseState): SearchKey {
  if (depth > MAX_DEPTH) throw ImapError.bad('Search criteria are nested too deeply');
  if (++state.keys > MAX_SEARCH_KEYS) throw ImapError.bad(`Too many search keys (the limit is ${MAX_SEARCH_KEYS})`);
  if (args.peek() === 0x28) {
    const keys = args.list(() => parseKey(args, depth + 1, state), 'a parenthesized search key');
    if (keys.length === 0) throw ImapError.bad('Empty parentheses in search criteria');
    return keys.length === 1 ? keys[0] : { type: 'and', keys };
  }
  if (args.peekSequenceSet()) return { type: 'seq', set: args.sequenceSet() };
  const name = args.atom('a search key').toUpperCase();
  const flagKey = FLAG_KEYS[name];
  if (flagKey) return { type: 'flag', flag: flagKey[0], set: flagKey[1] };
  const dateKey = DATE_KEYS[name];
  if (dateKey) {
    args.space();
    return { type: dateKey[0], op: dateKey[1], day: args.date() };
  }
  if (ADDRESS_KEYS.has(name)) {
    args.space();
    return { type: 'address', field: name.toLowerCase() as AddressField, value: text(args) };
  }
  if (name === 'SUBJECT') {
    args.space();
    return { type: 'header', field: 'subject', value: text(args) };
  }
  switch (name) {
    case 'ALL':
      return { type: 'all' };
    case 'NEW':
      return { type: 'new' };
    case 'OLD':
      return { type: 'recent', set: false };
    case 'RECENT':
      return { type: 'recent', set: true };
    case 'KEYWORD':
    case 'UNKEYWORD': {
      args.space();
      const flag = args.flag();
      return { type: 'flag', flag, set: name === 'KEYWORD' };
    }
    case 'LARGER':
    case 'SMALLER':
      args.space();
      return { type: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', octets: args.number('a size in octets') };
    case 'HEADER': {
      args.space();
      const field = args.astring('a header field name').toString('latin1');
      args.space();
      return { type: 'header', field: field.toLowerCase(), value: text(args) };
    }
    case 'BODY':
      args.space();
      return { type: 'body', value: text(args) };
    case 'TEXT':
      args.space();
      return { type: 'text', value: text(args) };
    case 'UID':
      args.space();
      return { type: 'uid', set: args.sequenceSet() };
    case 'NOT':
      args.space();
      return { type: 'not', key: parseKey(args, depth + 1, state) };
    case 'OR': {
      args.space();
      const left = parseKey(args, depth + 1, state);
      args.space();
      const right = parseKey(args, depth + 1, state);
      return { type: 'or', left, right };
    }
    case 'MODSEQ': {
      args.space();
      // The optional entry name and type (RFC 7162 §3.1.5) only narrow per-flag mod-sequences,
      // which this server does not keep apart: they are read and ignored.
      if (args.peek() === 0x22) {
        args.string('an entry name');
        args.space();
        const type = args.atom('an entry type (priv, shared or all)').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all')
          throw ImapError.bad(`Expected an entry type (priv, shared or all) but found ${type}`);
        args.space();
      }
      return { type: 'modseq', modseq: args.number('a mod-sequence', true) };
    }
    default:
      throw ImapError.bad(`Unknown search key ${name}`);
  }
}

/** Whether any single key in the criteria (looking through NOT, OR and parentheses) passes `test`. */
export function anyKey(key: SearchKey, test: (leaf: SearchKey) => boolean): boolean {
  switch (key.type) {
    case 'not':
      return anyKey(key.key, test);
    case 'or':
      return anyKey(key.left, test) || anyKey(key.right, test);
    case 'and':
      return key.keys.some((inner) => anyKey(inner, test));
    default:
      return test(key);
  }
}

/** Whether the criteria name messages by sequence number. */
export function usesSequenceNumbers(key: SearchKey): boolean {
  return anyKey(key, (leaf) => leaf.type === 'seq');
}

/** Whether the criteria use MODSEQ (the response then carries the highest mod-sequence, RFC 7162 §3.1.5). */
export function usesModseq(key: SearchKey): boolean {
  return anyKey(key, (leaf) => leaf.type === 'modseq');
}
