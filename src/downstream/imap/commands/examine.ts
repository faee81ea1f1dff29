/**
 * EXAMINE (RFC 3501 §6.3.2): SELECT, read-only: no flag changes, no expunges, \Recent left alone.
 *
 *   C: A932 EXAMINE blurdybloop
 *   S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
 *   S: * OK [PERMANENTFLAGS ()] Read-only mailbox
 *   S: * 17 EXISTS
 *   S: * 2 RECENT
 *   S: * OK [UIDVALIDITY 3857529045] UIDs valid
 *   S: * OK [UIDNEXT 4392] Predicted next UID
 *   S: * OK [HIGHESTMODSEQ 715194045007] Highest
 *   S: A932 OK [READ-ONLY] EXAMINE completed
 */
import { AUTHENTICATED, defineCommand } from '../command.js';
import { openMailbox, parseSelect } from './select.js';

export default defineCommand({
  name: 'EXAMINE',
  states: AUTHENTICATED,
  parse: parseSelect,
  run: (ctx, args) => openMailbox(ctx, args, true),
});
