/**
 * COPY and UID COPY (RFC 3501 §6.4.7): copies messages, flags and internal dates to another mailbox;
 * the answer names the new UIDs (COPYUID, UIDPLUS RFC 4315 §3). A missing target gets TRYCREATE; a
 * message already expunged by another session gets NO [EXPUNGEISSUED] and nothing is copied.
 *
 *   C: A003 COPY 2:4 MEETING
 *   S: A003 OK [COPYUID 38505 304,319:320 3956:3958] COPY completed
 */
import { defineCommand, SELECTED, type CommandContext } from '../command.js';
import { ImapError } from '../errors.js';
import { formatSequenceSet, type SequenceSet } from '../wire/sequence-set.js';
import type { ArgReader } from '../wire/args.js';
import { copyInBatches } from '../store-batches.js';

/** COPY/MOVE arguments: the messages and the target mailbox. */
export interface TransferArgs {
  set: SequenceSet;
  mailbox: string;
}

/** `sequence-set SP mailbox`, shared by COPY and MOVE. */
export function parseTransfer(args: ArgReader): TransferArgs {
  args.space();
  const set = args.sequenceSet();
  args.space();
  const mailbox = args.mailbox();
  args.end();
  return { set, mailbox };
}

/**
 * The source UIDs and the target mailbox of COPY/MOVE; TRYCREATE when the target does not exist.
 * A message another session expunged (its EXPUNGE not yet sent to this client) cannot be copied: the
 * command then does nothing and answers NO [EXPUNGEISSUED] (RFC 5530 §3), so a NO always means
 * "nothing happened" as RFC 3501 §6.4.7 asks of COPY. The client hears the EXPUNGE before the NO.
 */
export function resolveTransfer(ctx: CommandContext, { set, mailbox }: TransferArgs): { uids: number[]; targetId: number } {
  const view = ctx.session.requireView();
  const target = ctx.server.store.findMailbox(ctx.session.requireAccount(), mailbox);
  if (!target) throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'TRYCREATE');
  const seqs = ctx.uid ? view.seqsFromUidSet(set) : view.seqsFromSequenceSet(set);
  const uids = seqs.map((seq) => view.at(seq).uid);
  if (uids.some((uid) => view.isExpunged(uid))) throw expungeIssued();
  return { uids, targetId: target.id };
}

/** The answer when some of the messages were expunged by another session (RFC 5530 §3). */
export function expungeIssued(): ImapError {
  return ImapError.no('Some of the messages no longer exist', 'EXPUNGEISSUED');
}

/** `COPYUID uidvalidity source-uids target-uids`, both sets in the same order. */
export function copyUidCode(uidValidity: number, pairs: ReadonlyArray<readonly [number, number]>): string | undefined {
  if (pairs.length === 0) return undefined;
  return `COPYUID ${uidValidity} ${formatSequenceSet(pairs.map(([source]) => source))} ${formatSequenceSet(pairs.map(([, target]) => target))}`;
}

export default defineCommand({
  name: 'COPY',
  states: SELECTED,
  uidVariant: true,
  parse: parseTransfer,
  async run(ctx, args) {
    const view = ctx.session.requireView();
    const { uids, targetId } = resolveTransfer(ctx, args);
    // In batches (store-batches.ts). Expunged meanwhile: an unsuccessful COPY must leave the target as it
    // was (RFC 3501 §6.4.7), so the copies made are gone again before the NO.
    const { uidValidity, pairs, incomplete } = await copyInBatches(ctx.server.store, ctx.slice, view.mailboxId, uids, targetId);
    if (incomplete) throw expungeIssued();
    return { code: uidValidity === undefined ? undefined : copyUidCode(uidValidity, pairs), text: 'COPY completed' };
  },
});
