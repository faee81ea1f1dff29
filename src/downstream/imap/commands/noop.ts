/**
 * NOOP (RFC 3501 §6.1.2): does nothing, which gives the server the chance to report mailbox
 * changes (new mail, expunges, flag changes from other sessions).
 *
 *   C: a002 NOOP
 *   S: * 22 EXPUNGE
 *   S: * 23 EXISTS
 *   S: * 3 RECENT
 *   S: * 14 FETCH (UID 27 FLAGS (\Seen \Deleted))
 *   S: a002 OK NOOP completed
 */
import { ANY_STATE, defineCommand, noArguments } from '../command.js';

export default defineCommand({
  name: 'NOOP',
  states: ANY_STATE,
  parse: noArguments,
  async run() {
    // The dispatcher sends the pending updates before the tagged OK.
  },
});
