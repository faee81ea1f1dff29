/**
 * SASL initial responses for POP3 AUTH (RFC 5034). Both are base64 of bytes built from the credentials, so the
 * secrets never appear on a line as text and a password may hold any character except NUL.
 */
import { Pop3Error } from './errors.js';

/** RFC 4616 §2: `[authzid] NUL authcid NUL passwd`, with an empty authzid (log in as yourself). */
export function plainInitialResponse(user: string, password: string): string {
  if (user.includes('\0') || password.includes('\0')) {
    throw new Pop3Error('auth', 'AUTH PLAIN cannot carry a user name or password containing a NUL character');
  }
  return Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
}

/**
 * Microsoft's XOAUTH2: `user=ADDRESS ^A auth=Bearer TOKEN ^A ^A` (learn.microsoft.com, "Authenticate an IMAP,
 * POP or SMTP connection using OAuth").
 */
export function xoauth2InitialResponse(user: string, accessToken: string): string {
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\x00-\x1f]/.test(user) || /[\x00-\x1f]/.test(accessToken)) {
    throw new Pop3Error('auth', 'XOAUTH2 user name and access token must not contain control characters');
  }
  return Buffer.from(`user=${user}\x01auth=Bearer ${accessToken}\x01\x01`, 'utf8').toString('base64');
}

/** The text of an XOAUTH2 error challenge (`+ <base64 JSON>`), decoded for the error message; empty if none. */
export function decodeXoauth2Challenge(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length === 0 || !/^[A-Za-z0-9+/=]+$/.test(trimmed)) return trimmed;
  return Buffer.from(trimmed, 'base64').toString('utf8');
}
