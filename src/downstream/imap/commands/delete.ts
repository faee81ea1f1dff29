/**
 * DELETE (RFC 3501 §6.3.4): removes a mailbox and its messages. INBOX cannot be deleted; a mailbox
 * with children can, and its name lives on as a \Noselect parent of them.
 *
 *   C: A683 DELETE blurdybloop
 *   S: A683 OK DELETE completed
 *   C: A684 DELETE foo
 *   S: A684 NO [NONEXISTENT] Mailbox foo does not exist
 */
import { AUTHENTICATED, defineCommand, parseMailboxOnly } from '../command.js';
import { ImapError } from '../errors.js';
import { DELIMITER } from '../mailbox-names.js';

export default defineCommand({
  name: 'DELETE',
  states: AUTHENTICATED,
  parse: parseMailboxOnly,
  async run(ctx, mailbox) {
    const account = ctx.session.requireAccount();
    const { store } = ctx.server;
    if (mailbox === 'INBOX') throw ImapError.no('INBOX cannot be deleted', 'CANNOT');
    const record = store.findMailbox(account, mailbox);
    if (!record) {
      const hasChildren = store.listMailboxes(account).some((other) => other.name.startsWith(mailbox + DELIMITER));
      if (hasChildren) throw ImapError.no(`${mailbox} has no messages of its own and still has children`, 'CANNOT');
      throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'NONEXISTENT');
    }
    const selectedHere = ctx.session.view?.mailboxId === record.id;
    await store.deleteMailbox(record.id);
    ctx.server.recent.forget(record.id);
    if (selectedHere) {
      // Our own selected mailbox is gone: back to the authenticated state, and say so.
      ctx.session.deselect();
      ctx.out.untagged('OK [CLOSED] The selected mailbox was deleted');
    }
  },
});
