/**
 * APPEND (RFC 3501 §6.3.11): stores a message, byte for byte, with optional flags and internal date.
 * The answer carries APPENDUID (UIDPLUS, RFC 4315 §3). A message over the size limit never gets here:
 * the reader refuses its literal from the announced size (NO [TOOBIG], RFC 7889). Flags obey the same
 * keyword limits as STORE (NO [LIMIT], store/keyword-limits.ts).
 *
 *   C: A003 APPEND saved-messages (\Seen) "05-Jan-2024 10:00:00 +0100" {310}
 *   S: + Ready for literal data
 *   C: Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
 *   C: ...
 *   S: A003 OK [APPENDUID 38505 3955] APPEND completed
 */
import { AUTHENTICATED, defineCommand } from '../command.js';
import { checkMailboxKeywords, keywordCount } from '../../../store/index.js';
import { ImapError } from '../errors.js';
import { checkRequestedKeywords, withinKeywordLimits } from '../flags.js';
import type { ArgReader } from '../wire/args.js';

/** Everything before the message: `mailbox [flag-list] [date-time]`, the cursor left at the literal. */
function parseEnvelope(args: ArgReader): { mailbox: string; flags: string[]; internalDate?: number } {
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
  // Checked here, so a refused APPEND is refused before its literal is sent (beforeLiteral).
  checkRequestedKeywords(flags);
  return { mailbox, flags: flags.filter((flag) => flag !== '\\Recent'), internalDate };
}

function missingMailbox(mailbox: string): ImapError {
  // TRYCREATE tells the client it may CREATE the mailbox and try again (RFC 3501 §7.1).
  return ImapError.no(`Mailbox ${mailbox} does not exist`, 'TRYCREATE');
}

export default defineCommand({
  name: 'APPEND',
  states: AUTHENTICATED,
  beforeLiteral(args, { session, server }) {
    const { mailbox } = parseEnvelope(args);
    if (!server.store.findMailbox(session.requireAccount(), mailbox)) throw missingMailbox(mailbox);
  },
  parse(args) {
    const envelope = parseEnvelope(args);
    const message = args.string('the message literal');
    args.end();
    return { ...envelope, message };
  },
  async run(ctx, { mailbox, flags, internalDate, message }) {
    const record = ctx.server.store.findMailbox(ctx.session.requireAccount(), mailbox);
    if (!record) throw missingMailbox(mailbox);
    if (message.length === 0) throw ImapError.no('An empty message cannot be stored');
    if (message.length > ctx.server.maxLiteralBytes) throw ImapError.no('The message is too large', 'TOOBIG');
    if (keywordCount(flags) > 0) {
      // Outside the store's lock: a concurrent APPEND may slip past by at most its own keywords, which
      // keeps the mailbox bounded all the same (MAX_KEYWORDS_PER_MESSAGE per racing command).
      const records = await ctx.server.store.listMessages(record.id);
      await withinKeywordLimits(async () => checkMailboxKeywords(records, flags));
    }
    const { uid, uidValidity, blobId } = await ctx.server.store.appendMessage(record.id, message, { flags, internalDate });
    // Other sessions fetch a new message soon after it arrives (imaptest's clients all do): spare them the read.
    ctx.server.blobs.remember(blobId, message);
    return { code: `APPENDUID ${uidValidity} ${uid}`, text: 'APPEND completed' };
  },
});
