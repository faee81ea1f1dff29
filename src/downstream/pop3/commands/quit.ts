/**
 * QUIT (RFC 1939 §6). In the TRANSACTION state it enters UPDATE: every message marked by DELE leaves the
 * store in one durable batch, and only then does the client hear +OK. A session that ends any other way
 * (dropped connection, timeout, server stop) deletes nothing. What the expunge does at the provider
 * follows the account's delete_on_expunge, exactly as an IMAP expunge does.
 *
 *   C: QUIT
 *   S: +OK Logging out, 2 messages deleted
 */
import type { Pop3Command } from '../command.js';
import { errLine, Pop3Error } from '../errors.js';

export const QUIT: Pop3Command = {
  states: ['authorization', 'transaction'],
  async run(ctx) {
    const { session, server, out } = ctx;
    if (session.state !== 'transaction' || session.deleted.size === 0) {
      out.line('+OK Logging out');
      return { then: 'close' };
    }
    const uids = [...session.deleted].sort((a, b) => a - b).map((n) => session.messages[n - 1].uid);
    try {
      const removed = await server.maildrop.expunge(session.mailboxId, uids);
      server.logger.info({ account: session.account, deleted: removed.length }, 'POP3 messages deleted');
      out.line(`+OK Logging out, ${uids.length} message${uids.length === 1 ? '' : 's'} deleted`);
    } catch (err) {
      server.logger.error({ err, account: session.account }, 'POP3 QUIT could not delete the messages');
      // RFC 1939 §6: "-ERR some deleted messages not removed"; nothing was (the batch is all or nothing).
      out.line(errLine(new Pop3Error('Some deleted messages not removed: nothing was deleted, try again', 'SYS/TEMP')));
    }
    return { then: 'close' };
  },
};
