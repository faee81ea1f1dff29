/**
 * Relay attempts of queued messages through the provider's SMTP server with nodemailer. `raw` +
 * `envelope` make nodemailer send the stored bytes as they are (only dot-stuffing on the wire, RFC 5321
 * §4.5.2) to exactly the recipients still pending. Certificates are always verified: an extra CA
 * (`ca_file`) is added to Node's roots, never `rejectUnauthorized: false`.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type { UpstreamServer } from '../../config/types.js';
import type { Logger } from '../../runtime/logger.js';
import { smtpLibraryLogger } from '../../runtime/smtp-log.js';
import type { UpstreamLogin } from '../credentials.js';
import { reportFromError, reportFromInfo, type RelayReport, type SmtpErrorLike, type SmtpInfoLike } from './outcome.js';
import { trustContextFor } from '../tls-trust.js';
import { XOAUTH2_CUSTOM_METHOD, xoauth2Auth, xoauth2Handler } from './xoauth2.js';

export interface RelayRequest {
  login: UpstreamLogin;
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients: the ones still pending. */
  recipients: readonly string[];
  raw: Buffer;
  /** Aborts the attempt (daemon shutdown); the result is then a temporary problem. */
  signal?: AbortSignal;
}

/**
 * Node's built-in roots plus the configured CA (as for POP3), as a TLS context. The file is read at
 * each call, so a renewed CA counts from the next connection.
 */
export async function trustContext(caFile: string | undefined): Promise<tls.SecureContext> {
  return trustContextFor(caFile === undefined ? undefined : await fs.promises.readFile(caFile));
}

export function transportOptions(
  server: UpstreamServer,
  login: UpstreamLogin,
  secureContext: tls.SecureContext,
  logger?: Logger,
): SMTPPool.Options {
  // debug: a line per command; trace: the dialogue, the credentials replaced (runtime/smtp-log.ts).
  const secret = login.kind === 'password' ? login.password : login.accessToken;
  const libraryLogger = logger ? smtpLibraryLogger(logger, 'client', () => [secret, Buffer.from(secret).toString('base64')]) : undefined;
  return {
    host: server.host,
    port: server.port,
    secure: server.tls === 'implicit',
    // STARTTLS must succeed before anything else is said (RFC 3207); a server without it is refused.
    requireTLS: server.tls === 'starttls',
    ignoreTLS: server.tls === 'none',
    tls: {
      secureContext,
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
    // One connection, kept for the queued messages of one worker pass (RSET between them): fewer
    // TLS handshakes and logins, which providers count and throttle.
    pool: true,
    maxConnections: 1,
    // nodemailer's types want its own logger shape; ours has every level it calls.
    logger: (libraryLogger ?? false) as SMTPPool.Options['logger'],
    debug: libraryLogger !== undefined,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

function sameLogin(a: UpstreamLogin, b: UpstreamLogin): boolean {
  if (a.kind === 'password' && b.kind === 'password') return a.user === b.user && a.password === b.password;
  if (a.kind === 'xoauth2' && b.kind === 'xoauth2') return a.user === b.user && a.accessToken === b.accessToken;
  return false;
}

/**
 * The relay connection of one worker pass. send() never throws for SMTP or network trouble: that comes
 * back in the report. close() when the pass is over, so no connection idles between passes.
 */
export class RelaySession {
  private transport?: Transporter<SMTPPool.SentMessageInfo>;
  private login?: UpstreamLogin;
  private context?: tls.SecureContext;

  constructor(
    private readonly server: UpstreamServer,
    private readonly logger?: Logger,
  ) {}

  async send(request: RelayRequest): Promise<RelayReport> {
    let context: tls.SecureContext;
    try {
      context = await trustContext(this.server.caFile);
    } catch (err) {
      const reply = `cannot read ca_file ${this.server.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      return {
        delivered: [],
        failed: [],
        deferred: request.recipients.map((recipient) => ({ recipient, reply })),
        problem: { kind: 'temporary', reply },
      };
    }
    if (!this.transport || !this.login || !sameLogin(this.login, request.login) || this.context !== context) {
      this.close();
      const transport = nodemailer.createTransport(transportOptions(this.server, request.login, context, this.logger));
      // Errors of an idle pooled connection arrive as events; the next send() sees the failure itself.
      transport.on('error', () => undefined);
      this.transport = transport;
      this.login = request.login;
      this.context = context;
    }
    try {
      const info = await this.transport.sendMail({
        envelope: { from: request.from, to: [...request.recipients] },
        raw: request.raw,
        ...(request.signal ? { signal: request.signal } : {}),
      });
      return reportFromInfo(request.recipients, info as SmtpInfoLike);
    } catch (err) {
      const report = reportFromError(request.recipients, err as SmtpErrorLike);
      // After a refused login or trouble with the connection, start the next message afresh.
      if (report.problem) this.close();
      return report;
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = undefined;
    this.login = undefined;
  }
}
