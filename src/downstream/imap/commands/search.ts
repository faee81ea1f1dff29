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
 */
import { defineCommand, SELECTED } from '../command.js';
import { enableCondstore } from '../condstore.js';
import { ImapError } from '../errors.js';
import { searchView } from '../search/evaluate.js';
import type { SearchKey } from '../search/keys.js';
import { parseSearchKeys, usesModseq, usesSequenceNumbers } from '../search/parse.js';

const CHARSETS = ['UTF-8', 'US-ASCII'];

interface SearchArgs {
  criteria: SearchKey;
  /** An unsupported CHARSET: answered with NO [BADCHARSET] when the command runs. */
  badCharset?: string;
}

export default defineCommand({
  name: 'SEARCH',
  states: SELECTED,
  uidVariant: true,
  // A UID SEARCH that names message numbers must see them unchanged too (RFC 7162 §3.2.10).
  expungeAllowed: (uid, { criteria }: SearchArgs) => uid && !usesSequenceNumbers(criteria),
  parse(args): SearchArgs {
    args.space();
    let badCharset: string | undefined;
    if (args.acceptWord('CHARSET')) {
      args.space();
      const charset = args.astring('a charset name').toString('latin1').toUpperCase();
      if (!CHARSETS.includes(charset)) badCharset = charset;
      args.space();
    }
    if (args.peekWord('RETURN')) throw ImapError.bad('SEARCH RETURN (ESEARCH) is not supported');
    return { criteria: parseSearchKeys(args), badCharset };
  },
  async run(ctx, { criteria, badCharset }) {
    if (badCharset) throw ImapError.no(`Charset ${badCharset} is not supported`, `BADCHARSET (${CHARSETS.join(' ')})`);
    const view = ctx.session.requireView();
    const seqs = await searchView(ctx.server.store, view, criteria);
    const numbers = ctx.uid ? seqs.map((seq) => view.at(seq).uid) : seqs;
    let line = 'SEARCH';
    // Joined in slices: a match list of 100,000 numbers is one long line, built without quadratic copying.
    for (let i = 0; i < numbers.length; i += 4096) line += ' ' + numbers.slice(i, i + 4096).join(' ');
    if (usesModseq(criteria) && seqs.length > 0) {
      enableCondstore(ctx);
      let highest = 0;
      for (const seq of seqs) highest = Math.max(highest, view.at(seq).modseq);
      line += ` (MODSEQ ${highest})`;
    }
    ctx.out.untagged(line);
  },
});
