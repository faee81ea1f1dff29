/**
 * APPEND (RFC 3501 §6.3.11): stores a message, byte for byte, with optional flags and internal date.
 * The answer carries APPENDUID (UIDPLUS, RFC 4315 §3). A message over the size limit never gets here:
 * the reader refuses its literal from the announced size (NO [TOOBIG], RFC 7889).
 *
 *   C: A003 APPEND saved-messages (\Seen) "05-Jan-2024 10:00:00 +0100" {310}
 *   S: + Ready for literal data
 *   C: Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
 *   C: ...
 *   S: A003 OK [APPENDUID 38505 3955] APPEND completed
 */
import { AUTHENTICATED, defineCommand } from '../command.js';
import { ImapError } from '../errors.js';

export default defineCommand({
  name: 'APPEND',
  states: AUTHENTICATED,
  parse(args) {
    args.space();
    const mailbox = args.mailbox();
    args.space();
    let flags: string[] = [];
    let internalDate: number | undefined;
    if (args.peek() === 0x28) {
      flags = args.flagList();
      args.space();
    }
    if (args.peekDateTime()) {
      internalDate = args.dateTime();
      args.space();
    }
    if (args.peek() !== 0x7b) throw ImapError.bad('APPEND needs the message as a literal');
    const message = args.string('the message literal');
    args.end();
    return { mailbox, flags: flags.filter((flag) => flag !== '\\Recent'), internalDate, message };
  },
  async run(ctx, { mailbox, flags, internalDate, message }) {
    const record = ctx.server.store.findMailbox(ctx.session.requireAccount(), mailbox);
    // TRYCREATE tells the client it may CREATE the mailbox and try again (RFC 3501 §7.1).
    if (!record) throw ImapError.no(`Mailbox ${mailbox} does not exist`, 'TRYCREATE');
    if (message.length === 0) throw ImapError.no('An empty message cannot be stored');
    if (message.length > ctx.server.maxLiteralBytes) throw ImapError.no('The message is too large', 'TOOBIG');
    const { uid, uidValidity } = await ctx.server.store.appendMessage(record.id, message, { flags, internalDate });
    return { code: `APPENDUID ${uidValidity} ${uid}`, text: 'APPEND completed' };
  },
});
