/**
 * SMTP AUTH XOAUTH2 with our own access token, as a nodemailer custom authentication handler.
 * nodemailer's built-in XOAUTH2 sends the token as an initial response on one line and, on an error
 * challenge, tries to refresh the token itself; Microsoft documents the two-step form (`AUTH XOAUTH2`,
 * `334`, token) and hotbridge must refresh tokens itself (refresh tokens rotate, the OAuth2 module
 * keeps them). So: two steps, one line only when the server answers 504 to the bare command
 * (ARCHITECTURE.md, "Outlook.com facts").
 */
import type { SMTPConnectionCustomAuthContext } from 'nodemailer/lib/smtp-connection';
import { xoauth2Payload } from '../credentials.js';

/**
 * Our name for the handler in nodemailer's `customAuth` map. It is not "XOAUTH2" on purpose: for that
 * name nodemailer falls back to another advertised mechanism (PLAIN) when no nodemailer OAuth2 object
 * is configured.
 */
export const XOAUTH2_CUSTOM_METHOD = 'HOTBRIDGE-XOAUTH2';

/**
 * The `auth` object for nodemailer. The token travels as `pass`: nodemailer rebuilds the credentials
 * from user and pass (dropping other fields) before it calls the handler.
 */
export function xoauth2Auth(user: string, accessToken: string): { type: 'custom'; method: string; user: string; pass: string } {
  return { type: 'custom', method: XOAUTH2_CUSTOM_METHOD, user, pass: accessToken };
}

class XOAuth2Refused extends Error {}

export async function xoauth2Handler(ctx: SMTPConnectionCustomAuthContext): Promise<void> {
  const payload = xoauth2Payload(ctx.auth.credentials.user, ctx.auth.credentials.pass);
  let reply = await ctx.sendCommand('AUTH XOAUTH2');
  if (reply.status === 334) {
    reply = await ctx.sendCommand(payload);
  } else if (reply.status === 504 || reply.status === 501) {
    // A server that wants the initial response on the command line (RFC 4954 §4).
    reply = await ctx.sendCommand(`AUTH XOAUTH2 ${payload}`);
  }
  if (reply.status === 334) {
    // An error challenge (base64 JSON with the reason): the client answers with an empty line and
    // the server then ends the exchange with 5xx (Google/Microsoft XOAUTH2 protocol, RFC 7628 §3.2.3).
    reply = await ctx.sendCommand('');
  }
  // nodemailer builds the EAUTH error from the last reply it saw, so the provider's words reach the log.
  if (reply.status !== 235) throw new XOAuth2Refused('Invalid login');
}
