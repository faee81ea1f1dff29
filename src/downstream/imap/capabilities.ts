/**
 * The CAPABILITY list (RFC 3501 §7.2.1), which depends on the session: before login it offers the
 * ways to log in (and STARTTLS); after login it lists the extensions.
 */
import type { ServerContext } from './command.js';
import type { ImapSession } from './session.js';

/** Extensions available in every state. */
const ALWAYS = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE'];

/** Extensions advertised once logged in. */
const AFTER_LOGIN = [
  'NAMESPACE',
  'UIDPLUS',
  'MOVE',
  'UNSELECT',
  'CHILDREN',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'CONDSTORE',
  'QRESYNC',
  'ESEARCH',
];

/**
 * Whether logging in needs TLS first: on a connection to a non-loopback address while STARTTLS is
 * offered and not yet done (RFC 3501 §6.2.3 LOGINDISABLED). Loopback is where plaintext belongs.
 */
export function loginDisabled(session: ImapSession, server: ServerContext): boolean {
  return !session.loopback && !session.secure && server.tls !== undefined;
}

/** The space-separated CAPABILITY list for this session now (also the LOGIN response code). */
export function capabilityList(session: ImapSession, server: ServerContext): string {
  const caps = [...ALWAYS];
  if (session.state === 'not-authenticated') {
    if (server.tls && !session.secure) caps.push('STARTTLS');
    if (loginDisabled(session, server)) caps.push('LOGINDISABLED');
    else caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
  } else {
    caps.push(...AFTER_LOGIN, `APPENDLIMIT=${server.maxLiteralBytes}`);
  }
  return caps.join(' ');
}
