/**
 * CAPA (RFC 2449 §5): what this server does. Before login it offers the ways in that work on this
 * connection now (USER and SASL only where a login may be tried, STLS where a certificate is present).
 *
 *   C: CAPA
 *   S: +OK Capability list follows
 *   S: TOP
 *   ...
 *   S: .
 */
import { plaintextLoginAllowed, type Pop3Command, type Pop3CommandContext } from '../command.js';
import { Pop3Error } from '../errors.js';

export function capabilities(ctx: Pick<Pop3CommandContext, 'session' | 'server'>): string[] {
  const { session, server } = ctx;
  const caps = ['CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (session.state === 'authorization') {
    if (plaintextLoginAllowed(session, server)) caps.push('USER', 'SASL PLAIN LOGIN');
    if (!session.secure && server.tls?.()) caps.push('STLS');
  }
  // RFC 2449 §6.7: hotbridge never deletes a message the client did not delete.
  caps.push('EXPIRE NEVER', 'IMPLEMENTATION hotbridge');
  return caps;
}

export const CAPA: Pop3Command = {
  states: ['authorization', 'transaction'],
  run(ctx) {
    if (ctx.args.length > 0) throw new Pop3Error('CAPA takes no arguments');
    ctx.out.lines('+OK Capability list follows', capabilities(ctx));
  },
};
