/**
 * SUBSCRIBE (RFC 3501 §6.3.6): adds a name to the subscription list (LSUB). The name need not stay
 * in existence; subscribing to one that does not exist is refused.
 *
 *   C: A002 SUBSCRIBE #news.comp.mail.mime
 *   S: A002 OK SUBSCRIBE completed
 */
import { AUTHENTICATED, defineCommand, parseMailboxOnly } from '../command.js';
import { ImapError } from '../errors.js';

export default defineCommand({
  name: 'SUBSCRIBE',
  states: AUTHENTICATED,
  parse: parseMailboxOnly,
  async run(ctx, mailbox) {
    const account = ctx.session.requireAccount();
    if (!ctx.server.store.findMailbox(account, mailbox)) throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'NONEXISTENT');
    await ctx.server.store.setSubscribed(account, mailbox, true);
  },
});
