/**
 * STATUS (RFC 3501 §6.3.10): counters of a mailbox without selecting it. HIGHESTMODSEQ comes from
 * CONDSTORE (RFC 7162 §3.1.9), APPENDLIMIT from RFC 7889.
 *
 *   C: A042 STATUS blurdybloop (UIDNEXT MESSAGES)
 *   S: * STATUS "blurdybloop" (MESSAGES 231 UIDNEXT 44292)
 *   S: A042 OK STATUS completed
 */
import type { MailboxRecord } from '../../../store/index.js';
import { AUTHENTICATED, defineCommand, type ServerContext } from '../command.js';
import { enableCondstore } from '../condstore.js';
import { ImapError } from '../errors.js';
import { quoteMailbox } from '../mailbox-names.js';
import type { ArgReader } from '../wire/args.js';

/** The STATUS data items this server answers (RFC 3501 §6.3.10, RFC 7162, RFC 7889). */
export const STATUS_ITEMS = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'APPENDLIMIT'] as const;
export type StatusItem = (typeof STATUS_ITEMS)[number];

/** `(status-att *(SP status-att))`. */
export function parseStatusItems(args: ArgReader): StatusItem[] {
  const items = args.list(() => {
    const name = args.atom('a status item').toUpperCase();
    const item = STATUS_ITEMS.find((known) => known === name);
    if (!item) throw ImapError.bad(`Unknown STATUS item ${name}`);
    return item;
  }, 'a list of status items');
  if (items.length === 0) throw ImapError.bad('STATUS needs at least one item');
  return items;
}

/** The `* STATUS "name" (...)` line for a mailbox. */
export async function statusLine(server: ServerContext, mailbox: MailboxRecord, items: readonly StatusItem[]): Promise<string> {
  const needsMessages = items.some((item) => item === 'MESSAGES' || item === 'UNSEEN' || item === 'RECENT');
  const messages = needsMessages ? await server.store.listMessages(mailbox.id) : [];
  const values = items.map((item) => {
    switch (item) {
      case 'MESSAGES':
        return `MESSAGES ${messages.length}`;
      case 'RECENT': {
        const claimed = server.recent.claimedUpTo(mailbox.id);
        let recent = 0;
        for (let i = messages.length - 1; i >= 0 && messages[i].uid > claimed; i--) recent++;
        return `RECENT ${recent}`;
      }
      case 'UIDNEXT':
        return `UIDNEXT ${mailbox.uidNext}`;
      case 'UIDVALIDITY':
        return `UIDVALIDITY ${mailbox.uidValidity}`;
      case 'UNSEEN': {
        let unseen = 0;
        for (const message of messages) if (!message.flags.includes('\\Seen')) unseen++;
        return `UNSEEN ${unseen}`;
      }
      case 'HIGHESTMODSEQ':
        return `HIGHESTMODSEQ ${mailbox.highestModseq}`;
      case 'APPENDLIMIT':
        return `APPENDLIMIT ${server.maxLiteralBytes}`;
    }
  });
  return `STATUS ${quoteMailbox(mailbox.name)} (${values.join(' ')})`;
}

export default defineCommand({
  name: 'STATUS',
  states: AUTHENTICATED,
  parse(args) {
    args.space();
    const mailbox = args.mailbox();
    args.space();
    const items = parseStatusItems(args);
    args.end();
    return { mailbox, items };
  },
  async run(ctx, { mailbox, items }) {
    const record = ctx.server.store.findMailbox(ctx.session.requireAccount(), mailbox);
    if (!record) throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'NONEXISTENT');
    if (items.includes('HIGHESTMODSEQ')) enableCondstore(ctx);
    ctx.out.untagged(await statusLine(ctx.server, record, items));
  },
});
