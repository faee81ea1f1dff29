/**
 * FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8), with CONDSTORE's MODSEQ item and CHANGEDSINCE
 * modifier (RFC 7162 §3.1.4). Reading a body section without .PEEK sets \Seen, and the new FLAGS go
 * out in the same response.
 *
 *   C: A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])
 *   S: * 2 FETCH (FLAGS (\Deleted \Seen) BODY[HEADER.FIELDS (DATE FROM)] {50}
 *   S: Date: Wed, 17 Jul 1996 02:23:25 -0700
 *   S: From: gray@example.org
 *   S:
 *   S: )
 *   S: A654 OK FETCH completed
 *   C: A999 UID FETCH 4827313:4828442 FLAGS
 *   S: * 23 FETCH (UID 4827313 FLAGS (\Seen))
 */
import { defineCommand, SELECTED } from '../command.js';
import { enableCondstore } from '../condstore.js';
import { ImapError } from '../errors.js';
import { parseFetchItems, type FetchItem } from '../fetch-items.js';
import { lacksSeen, writeFetchResponses } from '../fetch-writer.js';
import type { SequenceSet } from '../wire/sequence-set.js';

interface FetchArgs {
  set: SequenceSet;
  items: FetchItem[];
  changedSince?: number;
}

export default defineCommand({
  name: 'FETCH',
  states: SELECTED,
  uidVariant: true,
  expungeAllowed: (uid) => uid,
  parse(args): FetchArgs {
    args.space();
    const set = args.sequenceSet();
    args.space();
    const items = parseFetchItems(args);
    let changedSince: number | undefined;
    if (args.acceptSpace()) {
      args.list(() => {
        const modifier = args.atom('a FETCH modifier').toUpperCase();
        if (modifier !== 'CHANGEDSINCE') throw ImapError.bad(`Unknown FETCH modifier ${modifier}`);
        args.space();
        changedSince = args.number('a mod-sequence', true);
      }, 'FETCH modifiers');
    }
    args.end();
    return { set, items, changedSince };
  },
  async run(ctx, { set, items, changedSince }) {
    const { session, server, out } = ctx;
    const view = session.requireView();
    let seqs = ctx.uid ? view.seqsFromUidSet(set) : view.seqsFromSequenceSet(set);
    let wanted = items;
    if (changedSince !== undefined) {
      enableCondstore(ctx);
      seqs = seqs.filter((seq) => view.at(seq).modseq > changedSince);
    }
    // With CONDSTORE on, every FETCH answer carries MODSEQ when flags are shown (RFC 7162 §3.1.4.1).
    if ((changedSince !== undefined || (session.condstore && wanted.some((item) => item.kind === 'FLAGS'))) && !wanted.some((item) => item.kind === 'MODSEQ')) {
      wanted = [...wanted, { kind: 'MODSEQ' }];
    }
    if (ctx.uid) wanted = [{ kind: 'UID' }, ...wanted.filter((item) => item.kind !== 'UID')];
    if (wanted.some((item) => item.kind === 'MODSEQ')) enableCondstore(ctx);

    const flagsChanged = new Set<number>();
    if (!view.readOnly && wanted.some((item) => item.kind === 'section' && item.setsSeen)) {
      const unseen = seqs.map((seq) => view.at(seq)).filter((record) => lacksSeen(record) && !view.isExpunged(record.uid)).map((record) => record.uid);
      if (unseen.length > 0) {
        const { changed } = await server.store.storeFlags(view.mailboxId, unseen, 'add', ['\\Seen'], { origin: view.origin });
        view.applyOwnFlags(changed);
        for (const record of changed) flagsChanged.add(record.uid);
      }
    }
    const { missing } = await writeFetchResponses(out, server.store, view, seqs, { items: wanted, flagsChanged });
    if (missing > 0) throw ImapError.no('Some messages were expunged by another session and could not be fetched', 'EXPUNGEISSUED');
  },
});
