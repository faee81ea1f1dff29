/**
 * The trust store for upstream TLS: Node's built-in roots plus an optional extra CA (`ca_file`).
 * Certificates are always verified; this only decides which CAs count. Building a context from Node's
 * ~150 roots costs 15–50 ms of CPU, so contexts are cached by the CA's content.
 */
import { createHash } from 'node:crypto';
import tls from 'node:tls';

const contexts = new Map<string, tls.SecureContext>();

/** A secure context trusting Node's roots and `extraCa` (PEM), cached by content. */
export function trustContextFor(extraCa: Buffer | string | undefined): tls.SecureContext {
  const key = extraCa === undefined ? '' : createHash('sha256').update(extraCa).digest('hex');
  let context = contexts.get(key);
  if (!context) {
    context = tls.createSecureContext({
      ca: extraCa === undefined ? [...tls.rootCertificates] : [...tls.rootCertificates, extraCa],
      minVersion: 'TLSv1.2',
    });
    // A handful of CAs at most in practice; the bound only guards against a CA file rewritten in a loop.
    if (contexts.size >= 16) contexts.clear();
    contexts.set(key, context);
  }
  return context;
}
