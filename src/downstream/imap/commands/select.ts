/**
 * SELECT (RFC 3501 §6.3.1): opens a mailbox read-write; the session gets its own sequence-number
 * view and claims the mailbox's \Recent messages. `(CONDSTORE)` switches CONDSTORE on (RFC 7162 §3.1.8).
 *
 *   C: A142 SELECT INBOX
 *   S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
 *   S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
 *   S: * 172 EXISTS
 *   S: * 1 RECENT
 *   S: * OK [UNSEEN 12] First unseen
 *   S: * OK [UIDVALIDITY 3857529045] UIDs valid
 *   S: * OK [UIDNEXT 4392] Predicted next UID
 *   S: * OK [HIGHESTMODSEQ 715194045007] Highest
 *   S: A142 OK [READ-WRITE] SELECT completed
 */
import { AUTHENTICATED, defineCommand, type CommandContext, type CommandOutcome } from '../command.js';
import { ImapError } from '../errors.js';
import { SessionView } from '../session-view.js';
import type { ArgReader } from '../wire/args.js';

/** SELECT/EXAMINE arguments. */
export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
}

/** `mailbox [SP "(" select-param *(SP select-param) ")"]` (RFC 4466 §2.1). */
export function parseSelect(args: ArgReader): SelectArgs {
  args.space();
  const mailbox = args.mailbox();
  let condstore = false;
  if (args.acceptSpace()) {
    args.list(() => {
      const param = args.atom('a SELECT parameter').toUpperCase();
      if (param !== 'CONDSTORE') throw ImapError.bad(`Unknown SELECT parameter ${param}`);
      condstore = true;
    }, 'SELECT parameters');
  }
  args.end();
  return { mailbox, condstore };
}

/** SELECT and EXAMINE: everything but the read-only flag is the same. */
export async function openMailbox(ctx: CommandContext, { mailbox, condstore }: SelectArgs, readOnly: boolean): Promise<CommandOutcome> {
  const { session, server, out } = ctx;
  if (session.view) {
    // The previous mailbox is closed without expunging; RFC 7162 §3.2.11 names this moment [CLOSED].
    session.deselect();
    out.untagged('OK [CLOSED] Previous mailbox closed');
  }
  const record = server.store.findMailbox(session.requireAccount(), mailbox);
  if (!record) throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'NONEXISTENT');
  if (condstore) session.enabled.add('CONDSTORE');
  const view = await SessionView.open(server.store, server.recent, record, readOnly);
  session.select(view);
  out.untagged(view.flagsResponse());
  out.untagged(`OK [${view.permanentFlagsCode()}] ${readOnly ? 'Read-only mailbox' : 'Flags permitted'}`);
  out.untagged(`${view.exists} EXISTS`);
  out.untagged(`${view.recentCount} RECENT`);
  const unseen = view.firstUnseen();
  if (unseen > 0) out.untagged(`OK [UNSEEN ${unseen}] First unseen`);
  const current = view.mailbox;
  out.untagged(`OK [UIDVALIDITY ${current.uidValidity}] UIDs valid`);
  out.untagged(`OK [UIDNEXT ${current.uidNext}] Predicted next UID`);
  out.untagged(`OK [HIGHESTMODSEQ ${current.highestModseq}] Highest`);
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${readOnly ? 'EXAMINE' : 'SELECT'} completed` };
}

export default defineCommand({
  name: 'SELECT',
  states: AUTHENTICATED,
  parse: parseSelect,
  run: (ctx, args) => openMailbox(ctx, args, false),
});
