/**
 * SELECT (RFC 3501 §6.3.1): opens a mailbox read-write; the session gets its own sequence-number
 * view and claims the mailbox's \Recent messages. `(CONDSTORE)` switches CONDSTORE on (RFC 7162 §3.1.8);
 * `(QRESYNC (uidvalidity modseq [known-uids [seq-match]]))` also reports what the client missed since
 * (RFC 7162 §3.2.5, after ENABLE QRESYNC): VANISHED (EARLIER) and FETCH responses.
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
 *   C: A143 SELECT INBOX (QRESYNC (3857529045 715194045000 1:4391))
 *   S: * OK [CLOSED] Previous mailbox closed
 *   S: ... (as above)
 *   S: * VANISHED (EARLIER) 41,43:116
 *   S: * 49 FETCH (UID 117 FLAGS (\Seen \Answered) MODSEQ (715194045001))
 *   S: A143 OK [READ-WRITE] SELECT completed
 */
import { AUTHENTICATED, defineCommand, type CommandContext, type CommandOutcome } from '../command.js';
import { ImapError } from '../errors.js';
import { parseQresyncParams, resynchronize, type QresyncParams } from '../qresync.js';
import type { ImapSession } from '../session.js';
import { SessionView } from '../session-view.js';
import type { ArgReader } from '../wire/args.js';

/** SELECT/EXAMINE arguments. */
export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync?: QresyncParams;
}

/** `mailbox [SP "(" select-param *(SP select-param) ")"]` (RFC 4466 §2.1). */
export function parseSelect(args: ArgReader, { session }: { session: ImapSession }): SelectArgs {
  args.space();
  const mailbox = args.mailbox();
  let condstore = false;
  let qresync: QresyncParams | undefined;
  if (args.acceptSpace()) {
    const seen = new Set<string>();
    args.list(() => {
      const param = args.atom('a SELECT parameter').toUpperCase();
      if (seen.has(param)) throw ImapError.bad(`SELECT parameter ${param} given twice`);
      seen.add(param);
      if (param === 'CONDSTORE') condstore = true;
      else if (param === 'QRESYNC') {
        // RFC 7162 §3.2.5: only after the server answered ENABLE QRESYNC with ENABLED QRESYNC.
        if (!session.enabled.has('QRESYNC')) throw ImapError.bad('QRESYNC is not enabled (send ENABLE QRESYNC first)');
        args.space();
        qresync = parseQresyncParams(args);
      } else throw ImapError.bad(`Unknown SELECT parameter ${param}`);
    }, 'SELECT parameters');
    // RFC 4466 §2.1: the list holds at least one parameter.
    if (seen.size === 0) throw ImapError.bad('Empty list of SELECT parameters');
  }
  args.end();
  return { mailbox, condstore, ...(qresync ? { qresync } : {}) };
}

/** SELECT and EXAMINE: everything but the read-only flag is the same. */
export async function openMailbox(
  ctx: CommandContext,
  { mailbox, condstore, qresync }: SelectArgs,
  readOnly: boolean,
): Promise<CommandOutcome> {
  const { session, server, out } = ctx;
  if (session.view) {
    // The previous mailbox is closed without expunging; RFC 7162 §3.2.11 names this moment [CLOSED].
    session.deselect();
    out.untagged('OK [CLOSED] Previous mailbox closed');
  }
  const record = server.store.findMailbox(session.requireAccount(), mailbox);
  if (!record) throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'NONEXISTENT');
  if (condstore) session.enabled.add('CONDSTORE');
  const view = await SessionView.open(server.store, server.recent, record, readOnly, server.changes, ctx.slice);
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
  out.untagged(`OK [HIGHESTMODSEQ ${view.reportableModseq()}] Highest`);
  if (qresync) await resynchronize(out, server.store, view, qresync);
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${readOnly ? 'EXAMINE' : 'SELECT'} completed` };
}

export default defineCommand({
  name: 'SELECT',
  states: AUTHENTICATED,
  parse: parseSelect,
  run: (ctx, args) => openMailbox(ctx, args, false),
});
