/**
 * AUTHENTICATE (RFC 3501 §6.2.2) with PLAIN (RFC 4616) and LOGIN, and an initial response on the
 * command line (SASL-IR, RFC 4959). The credentials are the same as for LOGIN.
 *
 *   C: A001 AUTHENTICATE PLAIN
 *   S: +
 *   C: AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=
 *   S: A001 OK [CAPABILITY IMAP4rev1 ...] Logged in
 *
 *   C: A002 AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=
 */
import { defineCommand, NOT_AUTHENTICATED, type CommandContext } from '../command.js';
import { loginDisabled } from '../capabilities.js';
import { ImapError } from '../errors.js';
import { loginNameForLog } from '../../../runtime/local-auth.js';

/** SASL-IR's "=" is an empty initial response (RFC 4959 §3). */
const EMPTY_RESPONSE = '=';

function decodeBase64(text: string): Buffer {
  if (text === EMPTY_RESPONSE) return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw ImapError.bad('Invalid base64 in the authentication data');
  return Buffer.from(text, 'base64');
}

/** The client's next SASL response; "*" cancels (RFC 3501 §6.2.2). */
async function challenge(ctx: CommandContext, prompt: string): Promise<Buffer> {
  ctx.sendContinuation(prompt);
  const reply = await ctx.readLine();
  if ('timeout' in reply || 'closed' in reply) throw ImapError.bad('Authentication timed out');
  if ('tooLong' in reply) throw ImapError.bad('Authentication data too long');
  const text = reply.line.toString('latin1').trim();
  if (text === '*') throw ImapError.bad('Authentication cancelled');
  return decodeBase64(text);
}

/** PLAIN: `authzid NUL authcid NUL password`; a different authzid (acting as someone else) is refused. */
function parsePlain(payload: Buffer): { user: string; password: string } {
  const first = payload.indexOf(0);
  const second = first < 0 ? -1 : payload.indexOf(0, first + 1);
  if (first < 0 || second < 0) throw ImapError.bad('Malformed PLAIN credentials');
  const authzid = payload.subarray(0, first).toString('utf8');
  const user = payload.subarray(first + 1, second).toString('utf8');
  const password = payload.subarray(second + 1).toString('utf8');
  if (authzid !== '' && authzid.toLowerCase() !== user.toLowerCase())
    throw ImapError.no('Acting as another user is not supported', 'AUTHORIZATIONFAILED');
  return { user, password };
}

export default defineCommand({
  name: 'AUTHENTICATE',
  states: NOT_AUTHENTICATED,
  parse(args) {
    args.space();
    const mechanism = args.atom('a SASL mechanism').toUpperCase();
    let initial: string | undefined;
    if (args.acceptSpace()) initial = args.atom('a base64 initial response');
    args.end();
    return { mechanism, initial };
  },
  async run(ctx, { mechanism, initial }) {
    if (loginDisabled(ctx.session, ctx.server)) throw ImapError.no('Log in after STARTTLS (LOGINDISABLED)', 'PRIVACYREQUIRED');
    let credentials: { user: string; password: string };
    if (mechanism === 'PLAIN') {
      credentials = parsePlain(initial !== undefined ? decodeBase64(initial) : await challenge(ctx, ''));
    } else if (mechanism === 'LOGIN') {
      const user = initial !== undefined ? decodeBase64(initial) : await challenge(ctx, Buffer.from('Username:').toString('base64'));
      const password = await challenge(ctx, Buffer.from('Password:').toString('base64'));
      credentials = { user: user.toString('utf8'), password: password.toString('utf8') };
    } else {
      throw ImapError.no(`Unsupported authentication mechanism ${mechanism} (use PLAIN or LOGIN)`);
    }
    const account = await ctx.server.auth.verify(credentials.user, credentials.password, ctx.session.remoteAddress, {
      signal: ctx.connectionClosed,
    });
    if (!account) {
      if (ctx.connectionClosed.aborted) throw ImapError.no('Connection closed');
      // Logged as SMTP logs its refusals: the name tried and the client, never the password.
      ctx.server.logger.warn(
        { user: loginNameForLog(credentials.user), remote: ctx.session.remoteAddress, method: mechanism },
        'IMAP login refused',
      );
      throw ImapError.no('Wrong address or local password (set it with `hotbridge password`)', 'AUTHENTICATIONFAILED');
    }
    ctx.session.login(account);
    ctx.server.logger.info({ account, remote: ctx.session.remoteAddress }, 'IMAP login');
    return { code: `CAPABILITY ${ctx.capabilities()}`, text: 'Logged in' };
  },
});
