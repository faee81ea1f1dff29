/**
 * LSUB (RFC 3501 §6.3.9): LIST over the subscribed names. A subscribed name below an unsubscribed
 * one that "%" stops at shows the parent as \Noselect.
 *
 *   C: A002 LSUB "#news." "comp.mail.*"
 *   S: * LSUB () "." #news.comp.mail.mime
 *   S: * LSUB () "." #news.comp.mail.misc
 *   S: A002 OK LSUB completed
 */
import { AUTHENTICATED, defineCommand } from '../command.js';
import { ancestorsOf, DELIMITER, listMatcher, quoteMailbox } from '../mailbox-names.js';

export default defineCommand({
  name: 'LSUB',
  states: AUTHENTICATED,
  parse(args) {
    args.space();
    const reference = args.mailbox();
    args.space();
    const pattern = args.listPattern();
    args.end();
    return { reference, pattern };
  },
  async run(ctx, { reference, pattern }) {
    const account = ctx.session.requireAccount();
    const subscribed = new Set(await ctx.server.store.listSubscriptions(account));
    if (pattern === '') {
      ctx.out.untagged(`LSUB (\\Noselect) "${DELIMITER}" ""`);
      return;
    }
    const match = listMatcher(reference, pattern);
    const shown = new Map<string, boolean>();
    for (const name of subscribed) {
      if (ctx.slice.due()) await ctx.slice.yield();
      if (match(name)) {
        shown.set(name, true);
        continue;
      }
      // Only where "%" stopped above a subscribed name does its parent show, as \Noselect (§6.3.9).
      for (const ancestor of ancestorsOf(name)) {
        if (!subscribed.has(ancestor) && match(ancestor) && !shown.has(ancestor)) shown.set(ancestor, false);
      }
    }
    const names = [...shown.keys()].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) ctx.out.untagged(`LSUB (${shown.get(name) ? '' : '\\Noselect'}) "${DELIMITER}" ${quoteMailbox(name)}`);
  },
});
