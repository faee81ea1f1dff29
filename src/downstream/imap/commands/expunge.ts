/**
 * EXPUNGE (RFC 3501 §6.4.3) removes every \Deleted message; UID EXPUNGE (RFC 4315 §2.1) only those in
 * a UID set. One EXPUNGE response per removed message, each number counting the removals before it.
 *
 *   C: A202 EXPUNGE
 *   S: * 3 EXPUNGE
 *   S: * 3 EXPUNGE
 *   S: * 5 EXPUNGE
 *   S: * 8 EXPUNGE
 *   S: A202 OK EXPUNGE completed
 *
 *   C: A003 UID EXPUNGE 3000:3002
 *
 * Once QRESYNC is enabled (RFC 7162 §3.2.7): VANISHED instead, and HIGHESTMODSEQ in the tagged OK.
 *
 *   C: B202 EXPUNGE
 *   S: * VANISHED 405,407,410,425
 *   S: B202 OK [HIGHESTMODSEQ 20010715194045319] EXPUNGE completed
 */
import { defineCommand, SELECTED } from '../command.js';
import { highestModseqAfterExpunge } from '../condstore.js';
import { ImapError } from '../errors.js';
import type { SequenceSet } from '../wire/sequence-set.js';
import { expungeInBatches } from '../store-batches.js';

const hasDeleted = (flags: readonly string[]) => flags.includes('\\Deleted');

export default defineCommand({
  name: 'EXPUNGE',
  states: SELECTED,
  uidVariant: true,
  parse(args, { uid }): { uids?: SequenceSet } {
    if (!uid) {
      args.end();
      return {};
    }
    args.space();
    const uids = args.sequenceSet();
    args.end();
    return { uids };
  },
  async run(ctx, { uids }) {
    const view = ctx.session.requireView();
    if (view.readOnly) throw ImapError.no('The mailbox is read-only (EXAMINE)', 'READ-ONLY');
    let candidates: Set<number> | undefined;
    if (uids) candidates = new Set(view.seqsFromUidSet(uids).map((seq) => view.at(seq).uid));
    const messages = await ctx.server.store.listMessages(view.mailboxId);
    const doomed: number[] = [];
    for (const message of messages) {
      if (ctx.slice.due()) await ctx.slice.yield();
      if (hasDeleted(message.flags) && (!candidates || candidates.has(message.uid))) doomed.push(message.uid);
    }
    // In batches (store-batches.ts): an EXPUNGE of 50,000 messages is 50 small durable writes.
    const removed = doomed.length > 0 ? await expungeInBatches(ctx.server.store, ctx.slice, view.mailboxId, doomed) : [];
    // The EXPUNGE (or VANISHED) responses are the view's pending updates, sent by the dispatcher before
    // the tagged OK.
    return highestModseqAfterExpunge(ctx, removed.length > 0);
  },
});
