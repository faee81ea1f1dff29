/**
 * UNSUBSCRIBE (RFC 3501 §6.3.7): removes a name from the subscription list, whether or not the
 * mailbox still exists.
 *
 *   C: A002 UNSUBSCRIBE #news.comp.mail.mime
 *   S: A002 OK UNSUBSCRIBE completed
 */
import { AUTHENTICATED, defineCommand, parseMailboxOnly } from '../command.js';

export default defineCommand({
  name: 'UNSUBSCRIBE',
  states: AUTHENTICATED,
  parse: parseMailboxOnly,
  async run(ctx, mailbox) {
    const account = ctx.session.requireAccount();
    await ctx.server.store.setSubscribed(account, mailbox, false);
  },
});
