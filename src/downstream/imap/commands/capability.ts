/**
 * CAPABILITY (RFC 3501 §6.1.1): what this server can do, in the session's current state.
 *
 *   C: abcd CAPABILITY
 *   S: * CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN AUTH=LOGIN
 *   S: abcd OK CAPABILITY completed
 */
import { ANY_STATE, defineCommand, noArguments } from '../command.js';

export default defineCommand({
  name: 'CAPABILITY',
  states: ANY_STATE,
  parse: noArguments,
  async run(ctx) {
    ctx.out.untagged(`CAPABILITY ${ctx.capabilities()}`);
  },
});
