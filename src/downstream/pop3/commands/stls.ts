/**
 * STLS (RFC 2595 §4): TLS on the plain port, before login. Offered whenever a certificate is present
 * (hotbridge cert, or tls_cert/tls_key); required before a login on a non-loopback address unless
 * allow_plaintext_lan is set. The "+OK" goes out in plaintext, then the handshake starts.
 *
 *   C: STLS
 *   S: +OK Begin TLS negotiation now
 */
import type { Pop3Command } from '../command.js';
import { Pop3Error } from '../errors.js';

export const STLS: Pop3Command = {
  states: ['authorization'],
  run(ctx) {
    if (ctx.session.secure) throw new Pop3Error('TLS is already active');
    if (!ctx.server.tls?.()) throw new Pop3Error('STLS is not offered here (no certificate: see `hotbridge cert`)');
    if (ctx.session.pendingUser !== undefined) throw new Pop3Error('STLS must come before USER');
    ctx.out.line('+OK Begin TLS negotiation now');
    return { then: 'stls' };
  },
};
