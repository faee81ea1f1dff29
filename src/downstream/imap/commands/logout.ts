/**
 * LOGOUT (RFC 3501 §6.1.3): BYE, the tagged OK, then the server closes the connection.
 *
 *   C: A023 LOGOUT
 *   S: * BYE IMAP4rev1 Server logging out
 *   S: A023 OK LOGOUT completed
 */
import { ANY_STATE, defineCommand, noArguments } from '../command.js';

export default defineCommand({
  name: 'LOGOUT',
  states: ANY_STATE,
  parse: noArguments,
  async run(ctx) {
    ctx.session.deselect();
    ctx.session.state = 'logout';
    ctx.out.untagged('BYE IMAP4rev1 Server logging out');
    return { then: 'logout' };
  },
});
