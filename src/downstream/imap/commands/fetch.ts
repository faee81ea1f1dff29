/**
 * FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8), with CONDSTORE's MODSEQ item and CHANGEDSINCE
 * modifier (RFC 7162 §3.1.4) and QRESYNC's VANISHED modifier of UID FETCH (§3.2.6). Reading a body
 * section without .PEEK sets \Seen, and the new FLAGS go out in the same response (with UID and MODSEQ
 * once CONDSTORE is on, §3.2.4).
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
 *   C: s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)
 *   S: * VANISHED (EARLIER) 300:310,405,411
 *   S: * 1 FETCH (UID 404 FLAGS (\Seen) MODSEQ (65402))
 */
import { defineCommand, SELECTED } from '../command.js';
import { enableCondstore } from '../condstore.js';
import { ImapError } from '../errors.js';
import { parseFetchItems, type FetchItem } from '../fetch-items.js';
import { lacksSeen, writeFetchResponses } from '../fetch-writer.js';
import { mergeRanges, StoreError } from '../../../store/index.js';
import { vanishedEarlier, writeVanishedEarlier } from '../qresync.js';
import { storeFlagsInBatches } from '../store-batches.js';
import { resolveSequenceSet, type SequenceSet } from '../wire/sequence-set.js';

interface FetchArgs {
  set: SequenceSet;
  items: FetchItem[];
  changedSince?: number;
  vanished?: boolean;
}

export default defineCommand({
  name: 'FETCH',
  states: SELECTED,
  uidVariant: true,
  expungeAllowed: (uid) => uid,
  parse(args, { uid, session }): FetchArgs {
    args.space();
    const set = args.sequenceSet();
    args.space();
    const items = parseFetchItems(args);
    let changedSince: number | undefined;
    let vanished = false;
    if (args.acceptSpace()) {
      const seen = new Set<string>();
      args.list(() => {
        const modifier = args.atom('a FETCH modifier').toUpperCase();
        if (seen.has(modifier)) throw ImapError.bad(`FETCH modifier ${modifier} given twice`);
        seen.add(modifier);
        if (modifier === 'CHANGEDSINCE') {
          args.space();
          changedSince = args.number('a mod-sequence', true);
        } else if (modifier === 'VANISHED') {
          // RFC 7162 §3.2.6: UID FETCH only, after ENABLE QRESYNC, and only with CHANGEDSINCE.
          if (!uid) throw ImapError.bad('VANISHED is a UID FETCH modifier');
          if (!session.enabled.has('QRESYNC')) throw ImapError.bad('QRESYNC is not enabled (send ENABLE QRESYNC first)');
          vanished = true;
        } else throw ImapError.bad(`Unknown FETCH modifier ${modifier}`);
      }, 'FETCH modifiers');
      // RFC 4466 §2.4: the list holds at least one modifier.
      if (seen.size === 0) throw ImapError.bad('Empty list of FETCH modifiers');
      if (vanished && changedSince === undefined) throw ImapError.bad('VANISHED needs CHANGEDSINCE');
    }
    args.end();
    return { set, items, changedSince, vanished };
  },
  async run(ctx, { set, items, changedSince, vanished }) {
    const { session, server, out } = ctx;
    const view = session.requireView();
    let seqs = ctx.uid ? view.seqsFromUidSet(set) : view.seqsFromSequenceSet(set);
    let wanted = items;
    if (changedSince !== undefined) {
      enableCondstore(ctx);
      seqs = seqs.filter((seq) => view.at(seq).modseq > changedSince);
      // CHANGEDSINCE implies the MODSEQ item (RFC 7162 §3.1.4.1).
      if (!wanted.some((item) => item.kind === 'MODSEQ')) wanted = [...wanted, { kind: 'MODSEQ' }];
    }
    if (ctx.uid) wanted = [{ kind: 'UID' }, ...wanted.filter((item) => item.kind !== 'UID')];
    if (wanted.some((item) => item.kind === 'MODSEQ')) enableCondstore(ctx);
    if (vanished && changedSince !== undefined) {
      // "*" is the highest UID ever given here, so expunges at the top of the mailbox are included.
      const known = mergeRanges(resolveSequenceSet(set, Math.max(view.mailbox.uidNext - 1, 1)));
      // Before any FETCH response (§3.2.6).
      writeVanishedEarlier(out, await vanishedEarlier(server.store, view, changedSince, known));
    }

    const flagsChanged = new Set<number>();
    if (!view.readOnly && wanted.some((item) => item.kind === 'section' && item.setsSeen)) {
      const unseen = seqs
        .map((seq) => view.at(seq))
        .filter((record) => lacksSeen(record) && !view.isExpunged(record.uid))
        .map((record) => record.uid);
      if (unseen.length > 0) {
        // In batches (store-batches.ts): a FETCH of 100,000 bodies sets \Seen on all of them.
        try {
          await storeFlagsInBatches(server.store, ctx.slice, view.mailboxId, unseen, 'add', ['\\Seen'], {}, (changed) => {
            view.applyOwnFlags(changed);
            for (const record of changed) flagsChanged.add(record.uid);
          });
        } catch (err) {
          // A full disk must not make mail unreadable: serve it, and leave \Seen unset this time.
          if (!(err instanceof StoreError && (err.code === 'no-space' || err.code === 'unwritable' || err.code === 'unavailable')))
            throw err;
        }
      }
    }
    const { missing, damaged } = await writeFetchResponses(out, server, view, seqs, {
      items: wanted,
      flagsChanged,
      condstore: session.condstore,
      slice: ctx.slice,
    });
    // Dovecot's "no-after" behaviour: the rest was sent, the damaged ones are named in the NO (RFC 5530 §3).
    if (damaged.length > 0) {
      const which =
        damaged.length === 1
          ? `Message UID ${damaged[0]} is`
          : `Messages UID ${damaged.slice(0, 20).join(',')}${damaged.length > 20 ? ',...' : ''} are`;
      throw ImapError.no(
        `${which} damaged in the local store and could not be read; the others were sent (hotbridge verify tells more)`,
        'CORRUPTION',
      );
    }
    if (missing > 0) throw ImapError.no('Some messages were expunged by another session and could not be fetched', 'EXPUNGEISSUED');
  },
});
