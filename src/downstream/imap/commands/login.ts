/**
 * LOGIN (RFC 3501 §6.2.3): the account address and the local password (`hotbridge password`).
 * Failures are slowed down per client address by the authenticator; the reply does not say whether
 * the user or the password was wrong.
 *
 *   C: a001 LOGIN you@hotmail.com "local password"
 *   S: a001 OK [CAPABILITY IMAP4rev1 ...] Logged in
 */
import { defineCommand, NOT_AUTHENTICATED } from '../command.js';
import { loginDisabled } from '../capabilities.js';
import { ImapError } from '../errors.js';
import { loginNameForLog } from '../../../runtime/local-auth.js';

export default defineCommand({
  name: 'LOGIN',
  states: NOT_AUTHENTICATED,
  parse(args) {
    args.space();
    const user = args.astring('a user name');
    args.space();
    const password = args.astring('a password');
    args.end();
    return { user: user.toString('utf8'), password: password.toString('utf8') };
  },
  async run(ctx, { user, password }) {
    if (loginDisabled(ctx.session, ctx.server)) throw ImapError.no('Log in after STARTTLS (LOGINDISABLED)', 'PRIVACYREQUIRED');
    const account = await ctx.server.auth.verify(user, password, ctx.session.remoteAddress, { signal: ctx.connectionClosed });
    if (!account) {
      if (ctx.connectionClosed.aborted) throw ImapError.no('Connection closed');
      // Logged as SMTP logs its refusals: the name tried and the client, never the password.
      ctx.server.logger.warn({ user: loginNameForLog(user), remote: ctx.session.remoteAddress, method: 'LOGIN' }, 'IMAP login refused');
      throw ImapError.no('Wrong address or local password (set it with `hotbridge password`)', 'AUTHENTICATIONFAILED');
    }
    ctx.session.login(account);
    ctx.server.logger.info({ account, remote: ctx.session.remoteAddress }, 'IMAP login');
    return { code: `CAPABILITY ${ctx.capabilities()}`, text: 'Logged in' };
  },
});
