/**
 * MOVE and UID MOVE (RFC 6851): COPY and expunge in one step. The COPYUID goes in an untagged OK
 * before the EXPUNGE responses (§4.3). A message already expunged by another session gets
 * NO [EXPUNGEISSUED] and nothing moves (see resolveTransfer).
 *
 *   C: a UID MOVE 42:69 foo
 *   S: * OK [COPYUID 432432 42:69 1202:1229] Moved
 *   S: * 22 EXPUNGE
 *   S: ...
 *   S: a OK MOVE completed
 */
import { defineCommand, SELECTED } from '../command.js';
import { highestModseqAfterExpunge } from '../condstore.js';
import { ImapError } from '../errors.js';
import { copyUidCode, expungeIssued, parseTransfer, resolveTransfer } from './copy.js';
import { moveInBatches } from '../store-batches.js';

export default defineCommand({
  name: 'MOVE',
  states: SELECTED,
  uidVariant: true,
  parse: parseTransfer,
  async run(ctx, args) {
    const view = ctx.session.requireView();
    if (view.readOnly) throw ImapError.no('The mailbox is read-only (EXAMINE)', 'READ-ONLY');
    const { uids, targetId } = resolveTransfer(ctx, args);
    // In batches (store-batches.ts), each one atomic.
    const { uidValidity, pairs, incomplete } = await moveInBatches(ctx.server.store, ctx.slice, view.mailboxId, uids, targetId);
    const code = uidValidity === undefined ? undefined : copyUidCode(uidValidity, pairs);
    if (code) ctx.out.untagged(`OK [${code}] Moved`);
    // Expunged between resolveTransfer and the move: what still existed has moved, which RFC 6851 §3.3
    // allows with a NO (each message moved or untouched); the client has its COPYUID and EXPUNGEs.
    if (incomplete) throw expungeIssued();
    // The EXPUNGE (or VANISHED) responses are the view's pending updates, sent before the tagged OK.
    return highestModseqAfterExpunge(ctx, pairs.length > 0);
  },
});
