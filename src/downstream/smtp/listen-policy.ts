/**
 * How a submission listener treats its clients, decided by the address it listens on: on loopback the
 * client is on this machine, so cleartext AUTH is allowed and STARTTLS is not offered (old clients
 * trip over a self-signed certificate); anywhere else the password must not cross the network in
 * the clear, so STARTTLS comes first (RFC 3207 §4, RFC 4954 §4 "SHOULD NOT ... over unencrypted").
 */
import { isLoopbackHost } from '../../config/load.js';

export interface ListenerSecurity {
  loopback: boolean;
  /** STARTTLS is offered (and then required before AUTH). */
  starttls: boolean;
  /** AUTH is accepted on a cleartext connection. */
  cleartextAuth: boolean;
}

export function listenerSecurity(host: string, hasCertificate: boolean): ListenerSecurity {
  if (isLoopbackHost(host)) return { loopback: true, starttls: false, cleartextAuth: true };
  if (!hasCertificate) {
    throw new Error(`the SMTP listener on ${host} is not on loopback: it needs a TLS certificate and key (smtp.tls_cert, smtp.tls_key)`);
  }
  return { loopback: false, starttls: true, cleartextAuth: false };
}
