/**
 * COPY and UID COPY (RFC 3501 §6.4.7): copies messages, flags and internal dates to another mailbox;
 * the answer names the new UIDs (COPYUID, UIDPLUS RFC 4315 §3). A missing target gets TRYCREATE.
 *
 *   C: A003 COPY 2:4 MEETING
 *   S: A003 OK [COPYUID 38505 304,319:320 3956:3958] COPY completed
 */
import { defineCommand, SELECTED, type CommandContext } from '../command.js';
import { ImapError } from '../errors.js';
import { formatSequenceSet, type SequenceSet } from '../wire/sequence-set.js';
import type { ArgReader } from '../wire/args.js';

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

/** The source UIDs and the target mailbox of COPY/MOVE; TRYCREATE when the target does not exist. */
export function resolveTransfer(ctx: CommandContext, { set, mailbox }: TransferArgs): { uids: number[]; targetId: number } {
  const view = ctx.session.requireView();
  const target = ctx.server.store.findMailbox(ctx.session.requireAccount(), mailbox);
  if (!target) throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'TRYCREATE');
  const seqs = ctx.uid ? view.seqsFromUidSet(set) : view.seqsFromSequenceSet(set);
  return { uids: seqs.map((seq) => view.at(seq).uid), targetId: target.id };
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
    const { uidValidity, pairs } = await ctx.server.store.copyMessages(view.mailboxId, uids, targetId);
    return { code: copyUidCode(uidValidity, pairs), text: 'COPY completed' };
  },
});
