/**
 * SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8): the matching sequence numbers (or UIDs). CHARSET
 * may be UTF-8 or US-ASCII; anything else is NO [BADCHARSET]. With a MODSEQ criterion the answer ends
 * with the highest mod-sequence of the matches (RFC 7162 §3.1.5).
 *
 *   C: A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
 *   S: * SEARCH 2 84 882
 *   S: A282 OK SEARCH completed
 *   C: A283 SEARCH TEXT "string not in mailbox"
 *   S: * SEARCH
 *   S: A283 OK SEARCH completed
 *   C: A284 SEARCH CHARSET UTF-8 TEXT {6}
 *   S: + Ready for literal data
 *   C: XXXXXX
 *   S: * SEARCH 43
 *   S: A284 OK SEARCH completed
 *
 * ESEARCH (RFC 4731): `SEARCH RETURN (MIN MAX ALL COUNT) criteria` answers with one ESEARCH response
 * naming the command's tag; `RETURN ()` means ALL. MIN, MAX and ALL are left out when nothing matched,
 * COUNT is always there. With a MODSEQ criterion the answer ends with the highest mod-sequence of the
 * messages it reports (RFC 7162 §3.1.5).
 *
 *   C: A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
 *   S: * ESEARCH (TAG "A282") MIN 2 COUNT 3
 *   S: A282 OK SEARCH completed
 *   C: A283 UID SEARCH RETURN () UNSEEN
 *   S: * ESEARCH (TAG "A283") UID ALL 4:19,21,28
 */
import { defineCommand, SELECTED } from '../command.js';
import { enableCondstore } from '../condstore.js';
import { ImapError } from '../errors.js';
import { searchView } from '../search/evaluate.js';
import type { SearchKey } from '../search/keys.js';
import { parseSearchKeys, usesModseq, usesSequenceNumbers } from '../search/parse.js';
import type { ArgReader } from '../wire/args.js';
import { formatSequenceSet } from '../wire/sequence-set.js';

const CHARSETS = ['UTF-8', 'US-ASCII'];

/** The ESEARCH return options (RFC 4731 §3.1). */
type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT';
const RETURN_OPTIONS: readonly ReturnOption[] = ['MIN', 'MAX', 'ALL', 'COUNT'];

interface SearchArgs {
  criteria: SearchKey;
  /** An unsupported CHARSET: answered with NO [BADCHARSET] when the command runs. */
  badCharset?: string;
  /** RETURN (...) was given: answer with ESEARCH, these items (ALL for an empty list). */
  returns?: Set<ReturnOption>;
}

/** `RETURN (option *(SP option))`: the ESEARCH result options (RFC 4731 §3.1, RFC 4466 §2.6). */
function parseReturnOptions(args: ArgReader): Set<ReturnOption> {
  args.space();
  const options = new Set<ReturnOption>();
  for (const name of args.list(() => args.atom('a SEARCH return option').toUpperCase(), 'SEARCH return options')) {
    const option = RETURN_OPTIONS.find((known) => known === name);
    if (!option) throw ImapError.bad(`Unknown SEARCH return option ${name} (MIN, MAX, ALL and COUNT are supported)`);
    options.add(option);
  }
  // RFC 4731 §3.1: an empty list means ALL.
  if (options.size === 0) options.add('ALL');
  return options;
}

export default defineCommand({
  name: 'SEARCH',
  states: SELECTED,
  uidVariant: true,
  // A UID SEARCH that names message numbers must see them unchanged too (RFC 7162 §3.2.10).
  expungeAllowed: (uid, { criteria }: SearchArgs) => uid && !usesSequenceNumbers(criteria),
  parse(args): SearchArgs {
    args.space();
    // RFC 4466 §2.6: search-return-opts come first, then CHARSET, then the criteria.
    let returns: Set<ReturnOption> | undefined;
    if (args.acceptWord('RETURN')) {
      returns = parseReturnOptions(args);
      args.space();
    }
    let badCharset: string | undefined;
    if (args.acceptWord('CHARSET')) {
      args.space();
      const charset = args.astring('a charset name').toString('latin1').toUpperCase();
      if (!CHARSETS.includes(charset)) badCharset = charset;
      args.space();
    }
    return { criteria: parseSearchKeys(args), badCharset, ...(returns ? { returns } : {}) };
  },
  async run(ctx, { criteria, badCharset, returns }) {
    if (badCharset) throw ImapError.no(`Charset ${badCharset} is not supported`, `BADCHARSET (${CHARSETS.join(' ')})`);
    const view = ctx.session.requireView();
    const seqs = await searchView(ctx.server.store, view, criteria);
    const numbers = ctx.uid ? seqs.map((seq) => view.at(seq).uid) : seqs;
    const modseqOf = (positions: Iterable<number>): number => {
      let highest = 0;
      for (const i of positions) highest = Math.max(highest, view.at(seqs[i]).modseq);
      return highest;
    };
    const withModseq = usesModseq(criteria) && seqs.length > 0;
    if (withModseq) enableCondstore(ctx);
    if (returns) {
      ctx.out.untagged(esearchLine(ctx.tag, ctx.uid, numbers, returns, withModseq ? modseqOf : undefined));
      return;
    }
    let line = 'SEARCH';
    // Joined in slices: a match list of 100,000 numbers is one long line, built without quadratic copying.
    for (let i = 0; i < numbers.length; i += 4096) line += ' ' + numbers.slice(i, i + 4096).join(' ');
    if (withModseq) line += ` (MODSEQ ${modseqOf(seqs.keys())})`;
    ctx.out.untagged(line);
  },
});

/**
 * `ESEARCH (TAG "tag") [UID] [MIN n] [MAX n] [ALL set] [COUNT n] [MODSEQ n]` (RFC 4731 §3.1, RFC 7162
 * §3.1.5). `numbers` are ascending; the MODSEQ is the highest of the messages the answer names: the
 * first for MIN alone, the last for MAX alone, both for MIN MAX, all of them for ALL or COUNT.
 */
function esearchLine(
  tag: string,
  uid: boolean,
  numbers: readonly number[],
  returns: ReadonlySet<ReturnOption>,
  modseqOf?: (positions: Iterable<number>) => number,
): string {
  let line = `ESEARCH (TAG ${quoteString(tag)})${uid ? ' UID' : ''}`;
  const found = numbers.length > 0;
  if (found && returns.has('MIN')) line += ` MIN ${numbers[0]}`;
  if (found && returns.has('MAX')) line += ` MAX ${numbers[numbers.length - 1]}`;
  if (found && returns.has('ALL')) line += ` ALL ${formatSequenceSet(numbers)}`;
  if (returns.has('COUNT')) line += ` COUNT ${numbers.length}`;
  if (modseqOf && found) {
    const whole = returns.has('ALL') || returns.has('COUNT');
    const positions = whole ? numbers.keys() : [...(returns.has('MIN') ? [0] : []), ...(returns.has('MAX') ? [numbers.length - 1] : [])];
    line += ` MODSEQ ${modseqOf(positions)}`;
  }
  return line;
}

/** A tag as an IMAP quoted string (tags are atoms, so only the quoting is needed). */
function quoteString(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}
