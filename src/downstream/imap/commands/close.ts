/**
 * CLOSE (RFC 3501 §6.4.2): expunges the \Deleted messages (read-write only, without EXPUNGE
 * responses) and leaves the selected state.
 *
 *   C: A341 CLOSE
 *   S: A341 OK CLOSE completed
 */
import { defineCommand, noArguments, SELECTED } from '../command.js';

export default defineCommand({
  name: 'CLOSE',
  states: SELECTED,
  parse: noArguments,
  async run(ctx) {
    const view = ctx.session.requireView();
    if (!view.readOnly) {
      const messages = await ctx.server.store.listMessages(view.mailboxId);
      const deleted = messages.filter((message) => message.flags.includes('\\Deleted')).map((message) => message.uid);
      if (deleted.length > 0) await ctx.server.store.expungeMessages(view.mailboxId, deleted);
    }
    ctx.session.deselect();
  },
});
