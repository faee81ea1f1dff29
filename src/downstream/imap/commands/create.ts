/**
 * CREATE (RFC 3501 §6.3.3): a new mailbox; missing superior names are created too. `(USE (\Sent))`
 * gives it a special-use attribute (CREATE-SPECIAL-USE, RFC 6154 §3).
 *
 *   C: A003 CREATE owatagusiam/
 *   S: A003 OK CREATE completed
 *   C: A004 CREATE owatagusiam/blurdybloop
 *   S: A004 OK CREATE completed
 *   C: A005 CREATE MySent (USE (\Sent))
 *   S: A005 OK CREATE completed
 */
import type { SpecialUse } from '../../../store/index.js';
import { AUTHENTICATED, defineCommand } from '../command.js';
import { ImapError } from '../errors.js';
import { ancestorsOf, validateNewName } from '../mailbox-names.js';

const SPECIAL_USES: readonly SpecialUse[] = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged'];

export default defineCommand({
  name: 'CREATE',
  states: AUTHENTICATED,
  parse(args) {
    args.space();
    const mailbox = args.mailbox();
    let specialUse: SpecialUse | undefined;
    if (args.acceptSpace()) {
      args.expect('(', 'CREATE parameters');
      if (!args.acceptWord('USE')) throw ImapError.bad('Unknown CREATE parameter (only USE is supported)');
      args.space();
      const uses = args.list(() => {
        args.expect('\\', 'a special-use attribute');
        return `\\${args.atom('a special-use attribute')}`;
      });
      args.expect(')');
      if (uses.length > 1) throw ImapError.no('Only one special-use attribute per mailbox', 'USEATTR');
      if (uses.length === 1) {
        specialUse = SPECIAL_USES.find((use) => use.toLowerCase() === uses[0].toLowerCase());
        if (!specialUse) throw ImapError.no(`Unknown special-use attribute ${uses[0]}`, 'USEATTR');
      }
    }
    args.end();
    return { mailbox, specialUse };
  },
  async run(ctx, { mailbox, specialUse }) {
    const account = ctx.session.requireAccount();
    const { store } = ctx.server;
    const name = validateNewName(mailbox, { trailingDelimiter: true });
    if (name === 'INBOX' || store.findMailbox(account, name)) throw ImapError.no(`Mailbox ${name} already exists`, 'ALREADYEXISTS');
    for (const ancestor of ancestorsOf(name)) {
      if (!store.findMailbox(account, ancestor)) await store.createMailbox(account, ancestor);
    }
    await store.createMailbox(account, name, specialUse);
  },
});
