/**
 * How a submission listener treats its clients, decided by the address it listens on: on loopback the
 * client is on this machine, so cleartext AUTH is allowed (STARTTLS is offered only when a certificate
 * is present: old clients trip over it otherwise); anywhere else the password must not cross the network
 * in the clear, so STARTTLS comes first (RFC 3207 §4, RFC 4954 §4 "SHOULD NOT ... over unencrypted"),
 * unless the user allowed plaintext on the home network (`allow_plaintext_lan`).
 */
import { isLoopbackHost } from '../../config/load.js';

export interface ListenerSecurity {
  loopback: boolean;
  /** STARTTLS is offered. */
  starttls: boolean;
  /** AUTH is accepted on a cleartext connection. */
  cleartextAuth: boolean;
}

export function listenerSecurity(host: string, hasCertificate: boolean, allowPlaintextLan = false): ListenerSecurity {
  if (isLoopbackHost(host)) return { loopback: true, starttls: hasCertificate, cleartextAuth: true };
  if (!hasCertificate && !allowPlaintextLan) {
    throw new Error(
      `the SMTP listener on ${host} is not on loopback: turn TLS on (run \`hotbridge cert\`, or set smtp.tls_cert and smtp.tls_key) or set smtp.allow_plaintext_lan = true`,
    );
  }
  return { loopback: false, starttls: hasCertificate, cleartextAuth: allowPlaintextLan };
}
