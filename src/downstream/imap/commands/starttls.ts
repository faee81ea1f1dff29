/**
 * STARTTLS (RFC 3501 §6.2.1): after the tagged OK, the TLS handshake starts on the same connection.
 * Offered only when a certificate is configured (non-loopback listeners); anything the client sent
 * after the command in plaintext is discarded.
 *
 *   C: a001 STARTTLS
 *   S: a001 OK Begin TLS negotiation now
 *   <TLS negotiation>
 */
import { defineCommand, noArguments, NOT_AUTHENTICATED } from '../command.js';
import { ImapError } from '../errors.js';

export default defineCommand({
  name: 'STARTTLS',
  states: NOT_AUTHENTICATED,
  parse: noArguments,
  async run(ctx) {
    if (!ctx.server.tls) throw ImapError.bad('STARTTLS is not offered here (plaintext on loopback)');
    if (ctx.session.secure) throw ImapError.bad('TLS is already active');
    return { text: 'Begin TLS negotiation now', then: 'starttls' };
  },
});
