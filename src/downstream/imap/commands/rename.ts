/**
 * RENAME (RFC 3501 §6.3.5): renames a mailbox and everything below it. Renaming INBOX moves its
 * messages into a new mailbox and leaves INBOX empty. Missing superior names of the new name are
 * created.
 *
 *   C: A682 RENAME blurdybloop sarasoop
 *   S: A682 OK RENAME completed
 */
import { AUTHENTICATED, defineCommand } from '../command.js';
import { ImapError } from '../errors.js';
import { ancestorsOf, DELIMITER, validateNewName } from '../mailbox-names.js';

export default defineCommand({
  name: 'RENAME',
  states: AUTHENTICATED,
  parse(args) {
    args.space();
    const from = args.mailbox();
    args.space();
    const to = args.mailbox();
    args.end();
    return { from, to };
  },
  async run(ctx, { from, to }) {
    const account = ctx.session.requireAccount();
    const { store } = ctx.server;
    const target = validateNewName(to);
    if (!store.findMailbox(account, from)) throw ImapError.no(`Mailbox ${from} does not exist`, 'NONEXISTENT');
    if (target === 'INBOX' || store.findMailbox(account, target)) throw ImapError.no(`Mailbox ${target} already exists`, 'ALREADYEXISTS');
    if (target.startsWith(from + DELIMITER)) throw ImapError.no('A mailbox cannot be moved below itself', 'CANNOT');
    for (const ancestor of ancestorsOf(target)) {
      if (ancestor !== from && !store.findMailbox(account, ancestor)) await store.createMailbox(account, ancestor);
    }
    const source = store.findMailbox(account, from)!.name;
    // INBOX's children stay where they are (RFC 3501 §6.3.5); any other mailbox takes its children along.
    const renames =
      source === 'INBOX'
        ? [{ from: source, to: target }]
        : store
            .listMailboxes(account)
            .filter((mailbox) => mailbox.name === source || mailbox.name.startsWith(source + DELIMITER))
            .map((mailbox) => ({ from: mailbox.name, to: target + mailbox.name.slice(source.length) }));
    await store.renameMailboxes(account, renames);
    // Subscriptions follow the renamed names (INBOX stays subscribed: it still exists).
    for (const name of await store.listSubscriptions(account)) {
      if (name !== source && !name.startsWith(source + DELIMITER)) continue;
      await store.setSubscribed(account, target + name.slice(source.length), true);
      if (name !== 'INBOX') await store.setSubscribed(account, name, false);
    }
  },
});
