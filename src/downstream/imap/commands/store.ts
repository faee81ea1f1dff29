/**
 * STORE and UID STORE (RFC 3501 §6.4.6): set, add or remove flags; the new flags come back as FETCH
 * responses unless .SILENT. UNCHANGEDSINCE (CONDSTORE, RFC 7162 §3.1.3) leaves messages changed since
 * then alone and names them in [MODIFIED]. A STORE that would go over a keyword limit changes nothing
 * and gets NO [LIMIT] (RFC 5530 §3; limits in store/keyword-limits.ts).
 *
 *   C: A003 STORE 2:4 +FLAGS (\Deleted)
 *   S: * 2 FETCH (FLAGS (\Deleted \Seen))
 *   S: * 3 FETCH (FLAGS (\Keyword \Deleted))
 *   S: * 4 FETCH (FLAGS (\Deleted \Flagged \Seen))
 *   S: A003 OK STORE completed
 */
import { defineCommand, SELECTED } from '../command.js';
import { enableCondstore } from '../condstore.js';
import { ImapError } from '../errors.js';
import { checkRequestedKeywords, checkStoreKeywords, withinKeywordLimits } from '../flags.js';
import { storeFlagsInBatches } from '../store-batches.js';
import { formatSequenceSet, type SequenceSet } from '../wire/sequence-set.js';

interface StoreArgs {
  set: SequenceSet;
  mode: 'set' | 'add' | 'remove';
  silent: boolean;
  flags: string[];
  unchangedSince?: number;
}

export default defineCommand({
  name: 'STORE',
  states: SELECTED,
  uidVariant: true,
  expungeAllowed: (uid) => uid,
  parse(args): StoreArgs {
    args.space();
    const set = args.sequenceSet();
    args.space();
    let unchangedSince: number | undefined;
    if (args.peek() === 0x28) {
      const modifiers = args.list(() => {
        const modifier = args.atom('a STORE modifier').toUpperCase();
        if (modifier !== 'UNCHANGEDSINCE') throw ImapError.bad(`Unknown STORE modifier ${modifier}`);
        // RFC 7162 §7: only a single UNCHANGEDSINCE may be given.
        if (unchangedSince !== undefined) throw ImapError.bad('STORE modifier UNCHANGEDSINCE given twice');
        args.space();
        unchangedSince = args.number('a mod-sequence', true);
      }, 'STORE modifiers');
      // RFC 4466 §2.5: the list holds at least one modifier.
      if (modifiers.length === 0) throw ImapError.bad('Empty list of STORE modifiers');
      args.space();
    }
    const action = args.atom('+FLAGS, -FLAGS or FLAGS').toUpperCase();
    const match = /^([+-]?)FLAGS(\.SILENT)?$/.exec(action);
    if (!match) throw ImapError.bad(`Expected FLAGS, +FLAGS or -FLAGS (optionally .SILENT), found ${action}`);
    args.space();
    let flags: string[];
    if (args.peek() === 0x28) flags = args.flagList();
    else {
      flags = [args.flag()];
      while (args.acceptSpace()) flags.push(args.flag());
    }
    args.end();
    if (flags.includes('\\Recent')) throw ImapError.bad('\\Recent cannot be stored (RFC 3501 section 2.3.2)');
    const mode = match[1] === '+' ? 'add' : match[1] === '-' ? 'remove' : 'set';
    // Removing can only shrink flag lists; adding is bounded (see store/keyword-limits.ts).
    if (mode !== 'remove') checkRequestedKeywords(flags);
    return { set, mode, silent: match[2] !== undefined, flags, unchangedSince };
  },
  async run(ctx, { set, mode, silent, flags, unchangedSince }) {
    const { session, server, out } = ctx;
    const view = session.requireView();
    if (view.readOnly) throw ImapError.no('The mailbox is read-only (EXAMINE)', 'READ-ONLY');
    const seqs = ctx.uid ? view.seqsFromUidSet(set) : view.seqsFromSequenceSet(set);
    if (unchangedSince !== undefined) enableCondstore(ctx);
    const uids = seqs.map((seq) => view.at(seq).uid);
    // Checked for the whole command before the first batch, so NO [LIMIT] still means "nothing changed".
    if (mode !== 'remove')
      await checkStoreKeywords(
        server.store,
        view.mailboxId,
        seqs.map((seq) => view.at(seq)),
        mode,
        flags,
        ctx.slice,
      );
    const { changed, modifiedSince } = await withinKeywordLimits(() =>
      storeFlagsInBatches(server.store, ctx.slice, view.mailboxId, uids, mode, flags, { unchangedSince }, (batch) =>
        view.applyOwnFlags(batch),
      ),
    );
    view.announceNewKeywords(out);
    const refused = new Set(modifiedSince);
    const withModseq = session.condstore;
    if (!silent || withModseq) {
      const changedUids = new Set(changed.map((record) => record.uid));
      for (const seq of seqs) {
        if (out.shouldPause(ctx.slice)) await out.pause(ctx.slice);
        const record = view.at(seq);
        if (refused.has(record.uid)) continue;
        // .SILENT with CONDSTORE still reports the new MODSEQ of what changed, and with UNCHANGEDSINCE
        // of every message that passed the test, changed or not (RFC 7162 §3.1.3).
        if (silent && !changedUids.has(record.uid) && (unchangedSince === undefined || view.isExpunged(record.uid))) continue;
        const parts: string[] = [];
        // Once CONDSTORE is on, these FETCH responses carry UID too (RFC 7162 §3.2.4).
        if (ctx.uid || withModseq) parts.push(`UID ${record.uid}`);
        if (!silent) parts.push(`FLAGS ${view.flagsOf(record)}`);
        if (withModseq) parts.push(`MODSEQ (${record.modseq})`);
        out.untagged(`${seq} FETCH (${parts.join(' ')})`);
      }
    }
    if (refused.size > 0) {
      const numbers = ctx.uid ? [...refused].sort((a, b) => a - b) : seqs.filter((seq) => refused.has(view.at(seq).uid));
      return { code: `MODIFIED ${formatSequenceSet(numbers)}`, text: 'Conditional STORE failed for some messages' };
    }
  },
});
