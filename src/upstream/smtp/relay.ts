/**
 * One relay attempt of one queued message through the provider's SMTP server with nodemailer. `raw` +
 * `envelope` make nodemailer send the stored bytes as they are (only dot-stuffing on the wire, RFC 5321
 * §4.5.2) to exactly the recipients still pending. Certificates are always verified: an extra CA
 * (`ca_file`) is added to Node's roots, never `rejectUnauthorized: false`.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import type { UpstreamServer } from '../../config/types.js';
import type { UpstreamLogin } from '../credentials.js';
import { reportFromError, reportFromInfo, type RelayReport, type SmtpErrorLike, type SmtpInfoLike } from './outcome.js';
import { XOAUTH2_CUSTOM_METHOD, xoauth2Auth, xoauth2Handler } from './xoauth2.js';

export interface RelayRequest {
  server: UpstreamServer;
  login: UpstreamLogin;
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients: the ones still pending. */
  recipients: readonly string[];
  raw: Buffer;
  /** Aborts the attempt (daemon shutdown); the result is then a temporary problem. */
  signal?: AbortSignal;
}

/** Node's built-in roots plus the configured CA (as for POP3), read at each attempt so a renewed file counts. */
export async function trustedCas(caFile: string | undefined): Promise<Array<string | Buffer>> {
  const roots: Array<string | Buffer> = [...tls.rootCertificates];
  if (caFile !== undefined) roots.push(await fs.promises.readFile(caFile));
  return roots;
}

export function transportOptions(server: UpstreamServer, login: UpstreamLogin, ca: Array<string | Buffer>): SMTPTransport.Options {
  return {
    host: server.host,
    port: server.port,
    secure: server.tls === 'implicit',
    // STARTTLS must succeed before anything else is said (RFC 3207); a server without it is refused.
    requireTLS: server.tls === 'starttls',
    ignoreTLS: server.tls === 'none',
    tls: {
      ca,
      minVersion: 'TLSv1.2',
      // SNI only for names (RFC 6066 §3); the certificate is checked against the host either way.
      ...(net.isIP(server.host) === 0 ? { servername: server.host } : {}),
    },
    name: os.hostname(),
    connectionTimeout: server.timeoutMs,
    greetingTimeout: server.timeoutMs,
    socketTimeout: server.timeoutMs,
    // Always log in, even if EHLO did not advertise AUTH: sending unauthenticated would only get a 530
    // that looks like a bounce.
    forceAuth: true,
    auth: login.kind === 'password' ? { user: login.user, pass: login.password } : xoauth2Auth(login.user, login.accessToken),
    customAuth: { [XOAUTH2_CUSTOM_METHOD]: xoauth2Handler },
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/** Sends once; never throws for SMTP or network trouble, which comes back in the report. */
export async function relayMessage(request: RelayRequest): Promise<RelayReport> {
  let ca: Array<string | Buffer>;
  try {
    ca = await trustedCas(request.server.caFile);
  } catch (err) {
    const reply = `cannot read ca_file ${request.server.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    return { delivered: [], failed: [], deferred: request.recipients.map((recipient) => ({ recipient, reply })), problem: { kind: 'temporary', reply } };
  }
  const transport = nodemailer.createTransport(transportOptions(request.server, request.login, ca));
  try {
    const info = await transport.sendMail({
      envelope: { from: request.from, to: [...request.recipients] },
      raw: request.raw,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    return reportFromInfo(request.recipients, info as SmtpInfoLike);
  } catch (err) {
    return reportFromError(request.recipients, err as SmtpErrorLike);
  } finally {
    transport.close();
  }
}
