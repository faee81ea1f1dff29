/**
 * Logging in (RFC 1939 §7 USER/PASS, RFC 5034 AUTH): the account address and the local password, checked
 * by the same local logins (and penalties per client address) as IMAP and SMTP. On success the session
 * takes its snapshot of the maildrop and enters the TRANSACTION state.
 *
 *   C: USER alice@example.test        C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=
 *   S: +OK                            S: +OK Logged in
 *   C: PASS secret
 *   S: +OK Logged in
 */
import type { Pop3Command, Pop3CommandContext, Pop3Outcome } from '../command.js';
import { plaintextLoginAllowed } from '../command.js';
import { Pop3Error, errLine } from '../errors.js';

/** Failed logins on one connection before it is closed (the penalty delay grows with each). */
const MAX_FAILED_LOGINS = 3;

const PLAINTEXT_REFUSED = 'Plaintext authentication is not allowed here without TLS: use STLS (or POP3 over TLS)';

function requirePlaintextAllowed(ctx: Pop3CommandContext): void {
  if (!plaintextLoginAllowed(ctx.session, ctx.server)) throw new Pop3Error(PLAINTEXT_REFUSED, 'AUTH');
}

/** Checks the login and opens the maildrop; writes the reply. */
async function logIn(ctx: Pop3CommandContext, user: string, password: string): Promise<Pop3Outcome> {
  const { session, server, out } = ctx;
  const account = await server.verify(user, password, session.remoteAddress, ctx.connectionClosed);
  if (ctx.connectionClosed.aborted) return { then: 'close' };
  if (account === undefined) {
    session.failedLogins += 1;
    server.logger.warn({ user, remote: session.remoteAddress }, 'POP3 login refused');
    const error = new Pop3Error('Authentication failed: wrong address or local password (set it with `hotbridge password`)', 'AUTH');
    if (session.failedLogins >= MAX_FAILED_LOGINS) {
      out.line(errLine(error));
      return { then: 'close' };
    }
    throw error;
  }
  const snapshot = await server.maildrop.open(account);
  if (!snapshot) throw new Pop3Error('This account has no INBOX', 'SYS/PERM');
  const sizes: number[] = [];
  for (const message of snapshot.messages) {
    let size = server.sizes.get(message.blobId);
    if (size === undefined) {
      const raw = await server.maildrop.read(snapshot.mailboxId, message);
      // Expunged between the listing and now: listed with size 0, RETR answers -ERR.
      size = raw ? server.sizes.remember(message.blobId, raw) : 0;
    }
    sizes.push(size);
  }
  session.enterTransaction(account, snapshot, sizes);
  server.logger.info({ account, remote: session.remoteAddress, messages: sizes.length }, 'POP3 login');
  out.line(`+OK Logged in, ${sizes.length} message${sizes.length === 1 ? '' : 's'}`);
}

export const USER: Pop3Command = {
  states: ['authorization'],
  run(ctx) {
    requirePlaintextAllowed(ctx);
    if (ctx.args.length === 0 || ctx.args.join(' ') === '') throw new Pop3Error('USER needs the account address');
    ctx.session.pendingUser = ctx.args.join(' ');
    ctx.out.line('+OK');
  },
};

export const PASS: Pop3Command = {
  states: ['authorization'],
  async run(ctx) {
    requirePlaintextAllowed(ctx);
    const user = ctx.session.pendingUser;
    if (user === undefined) throw new Pop3Error('Send USER first');
    ctx.session.pendingUser = undefined;
    // RFC 1939 §7: the password may contain spaces; it is everything after "PASS ".
    return logIn(ctx, user, ctx.args.join(' '));
  },
};

/** RFC 1939 §7 APOP needs the password in the clear on the server; local passwords are stored hashed. */
export const APOP: Pop3Command = {
  states: ['authorization'],
  run() {
    throw new Pop3Error('APOP is not supported: use USER and PASS, or AUTH PLAIN');
  },
};

const MECHANISMS = ['PLAIN', 'LOGIN'];

/** A base64 SASL answer (RFC 5034 §4: "*" cancels, "=" is an empty initial response). */
function decodeAnswer(text: string): string {
  if (text === '*') throw new Pop3Error('Authentication cancelled');
  if (text === '=') return '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Pop3Error('Invalid base64 in the SASL answer');
  return Buffer.from(text, 'base64').toString('utf8');
}

async function readAnswer(ctx: Pop3CommandContext, challenge: string): Promise<string> {
  const reply = await ctx.continuation(challenge);
  if ('closed' in reply) throw new Pop3Error('Connection closed during AUTH');
  if ('tooLong' in reply) throw new Pop3Error('SASL answer too long');
  return decodeAnswer(reply.line.trim());
}

export const AUTH: Pop3Command = {
  states: ['authorization'],
  async run(ctx) {
    // A bare AUTH lists the mechanisms (RFC 1734, what older clients such as Outlook send first).
    if (ctx.args.length === 0) {
      ctx.out.lines('+OK', MECHANISMS);
      return;
    }
    requirePlaintextAllowed(ctx);
    const mechanism = ctx.args[0].toUpperCase();
    const initial = ctx.args[1];
    if (ctx.args.length > 2) throw new Pop3Error('AUTH takes a mechanism and at most one initial response');
    if (mechanism === 'PLAIN') {
      // RFC 4616: authzid NUL authcid NUL passwd; an authzid other than the login itself is not allowed.
      const message = initial !== undefined ? decodeAnswer(initial) : await readAnswer(ctx, '');
      const parts = message.split('\u0000');
      if (parts.length !== 3) throw new Pop3Error('Malformed PLAIN answer');
      const [authzid, authcid, password] = parts;
      if (authzid !== '' && authzid.toLowerCase() !== authcid.toLowerCase())
        throw new Pop3Error('Logging in as another user is not allowed', 'AUTH');
      return logIn(ctx, authcid, password);
    }
    if (mechanism === 'LOGIN') {
      // The de-facto LOGIN mechanism: "Username:" and "Password:" challenges, base64.
      const user = initial !== undefined ? decodeAnswer(initial) : await readAnswer(ctx, 'VXNlcm5hbWU6');
      const password = await readAnswer(ctx, 'UGFzc3dvcmQ6');
      return logIn(ctx, user, password);
    }
    throw new Pop3Error(`Unsupported authentication mechanism ${mechanism.slice(0, 40)} (supported: ${MECHANISMS.join(' ')})`);
  },
};
