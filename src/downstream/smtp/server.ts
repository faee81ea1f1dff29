/**
 * The local submission server (RFC 6409) that old mail clients send through. Every transaction needs a
 * local login (never an open relay, also not from localhost), the sender must belong to the logged-in
 * account, and the client hears 250 only once the message and its envelope are durable in the outbox
 * (ARCHITECTURE.md invariant 2). The outbox worker (upstream/smtp) takes it from there.
 *
 * Hostile input: every limit is named in its reply (message size, recipients, line length); parameters
 * of extensions we do not offer get 555 and non-ASCII addresses 553 unless SMTPUTF8 was offered and
 * declared (envelope-policy.ts); no client can hold the server (session-guard.ts). Nothing is buffered
 * beyond the limits: smtp-server keeps at most one command line (MAX_LINE_BYTES) and streams DATA, of
 * which receive() keeps at most the message size limit plus one chunk.
 */
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerAuthenticationResponse,
  type SMTPServerDataStream,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';
import type { AccountConfig, ListenAddress, TlsMinVersion } from '../../config/types.js';
import { needsLegacyTls } from '../../runtime/tls-material.js';
import tls from 'node:tls';
import type { LocalAuthenticator } from '../../runtime/local-auth.js';
import type { Logger } from '../../runtime/logger.js';
import { smtpLibraryLogger } from '../../runtime/smtp-log.js';
import type { StatusBoard } from '../../runtime/status-board.js';
import { StoreError, type SubmissionStore } from '../../store/index.js';
import { loginNameForLog } from '../../runtime/local-auth.js';
import { addressCharsetRefusal, mailParameterRefusal, rawPath, rcptParameterRefusal, type EnvelopeRefusal } from './envelope-policy.js';
import { listenerSecurity, type ListenerSecurity } from './listen-policy.js';
import { senderRefusal } from './sender-policy.js';
import { SessionGuard, type ClosedCounts } from './session-guard.js';

export interface SubmissionServerOptions {
  listen: ListenAddress[];
  store: SubmissionStore;
  auth: LocalAuthenticator;
  logger: Logger;
  /** Advertised in EHLO SIZE (RFC 1870) and enforced: a larger message gets 552. */
  maxMessageBytes: number;
  /** The configured accounts, read at each MAIL FROM (address + send_as); a reload takes effect at once. */
  accounts: () => readonly AccountConfig[];
  /**
   * A certificate: STARTTLS is offered (and required before AUTH on non-loopback addresses, unless
   * allowPlaintextLan), and implicit-TLS listeners (SMTPS, port 465 style) can run.
   */
  tls?: { cert: Buffer; key: Buffer; minVersion?: TlsMinVersion };
  /** SMTPS addresses (RFC 8314 implicit TLS); they need `tls`. */
  tlsListen?: ListenAddress[];
  allowPlaintextLan?: boolean;
  /** Whether a client address may connect at all (allowed_networks), checked before the greeting. */
  admit?: (remoteAddress: string | undefined) => boolean;
  /** Where the listeners report themselves (section `smtp-listener`). */
  status?: StatusBoard;
  /**
   * Whether SMTPUTF8 (RFC 6531) may be offered now: the provider of every account offers it too (the
   * relay learns it at its EHLO to the provider). Read at each EHLO; default never.
   */
  smtpUtf8Offered?: () => boolean;
  /** Clients connected at once per listener (default 100); a new one closes the oldest not logged in. */
  maxClients?: number;
  timeouts?: Partial<SubmissionTimeouts>;
}

export interface SubmissionTimeouts {
  /** From connect to a successful AUTH, whatever the client sends meanwhile (default 60 s). */
  loginMs: number;
  /** Idle time allowed after login (default 5 minutes, RFC 5321 §4.5.3.2.7). */
  idleMs: number;
  /** The longest session; a transaction under way finishes first (default 1 hour). */
  sessionMs: number;
}

export interface SubmissionServer {
  addresses(): Array<{ host: string; port: number }>;
  /** Clients connected now, over all listeners. */
  connectionCount(): number;
  /** Connections closed since start for each reason, over all listeners (status: `listeners.smtp`). */
  closedCounts(): ClosedCounts;
  /** Stops listening; open sessions get a few seconds to finish their transaction. */
  stop(): Promise<void>;
}

/** RFC 5321 §4.5.3.1.8 requires at least 100; Outlook.com takes 500 per message, more would only bounce. */
const MAX_RECIPIENTS = 500;
/** How long stop() lets open sessions finish before closing them. */
const CLOSE_TIMEOUT_MS = 3000;

/** An error smtp-server turns into the reply `code text`. */
function smtpReply(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

/** The logged-in account of a session (set from onAuth's `user`), or undefined before AUTH. */
function loginOf(session: SMTPServerSession): string | undefined {
  return typeof session.user === 'string' ? session.user : undefined;
}

/** Concurrent SMTP clients per listener. */
const MAX_SMTP_CLIENTS = 100;
/**
 * The longest command line: RFC 5321 §4.5.3.1.4 allows 512 octets and extensions more; an AUTH PLAIN
 * line with its initial response (RFC 4954 §4) needs room for a long password in base64.
 */
const MAX_LINE_BYTES = 4096;
/** Failed logins on one connection before it is closed (Postfix and Dovecot close after a few too). */
const MAX_FAILED_LOGINS = 3;
const DEFAULT_TIMEOUTS: SubmissionTimeouts = { loginMs: 60_000, idleMs: 5 * 60_000, sessionMs: 60 * 60_000 };

/** The error smtp-server answers with for an envelope refusal. */
const refusalReply = (refusal: EnvelopeRefusal): Error & { responseCode: number } => smtpReply(refusal.code, refusal.text);

/** Opens one listener per configured address; port 0 picks a free port (see addresses()). */
export async function startSubmissionServer(settings: SubmissionServerOptions): Promise<SubmissionServer> {
  const logger = settings.logger.child({ component: 'smtp-submission' });
  const listeners: Array<{ server: SMTPServer; host: string; security: ListenerSecurity; guard: SessionGuard }> = [];
  const timeouts = { ...DEFAULT_TIMEOUTS, ...settings.timeouts };
  const maxClients = settings.maxClients ?? MAX_SMTP_CLIENTS;
  try {
    const all = [
      ...settings.listen.map((address) => ({ address, implicitTls: false })),
      ...(settings.tlsListen ?? []).map((address) => ({ address, implicitTls: true })),
    ];
    for (const { address, implicitTls } of all) {
      const host = address.host.replace(/^\[(.*)\]$/, '$1');
      if (implicitTls && !settings.tls)
        throw new Error(
          `SMTPS on ${host}:${address.port} needs a certificate (run \`hotbridge cert\`, or set smtp.tls_cert and smtp.tls_key)`,
        );
      // Implicit TLS: the whole session is encrypted, so AUTH needs nothing more.
      const security = implicitTls
        ? { loopback: false, starttls: false, cleartextAuth: true }
        : listenerSecurity(host, settings.tls !== undefined, settings.allowPlaintextLan);
      let guard: SessionGuard | undefined;
      const server = new SMTPServer(serverOptions(settings, security, logger, timeouts, maxClients, () => guard!, implicitTls));
      guard = new SessionGuard(server, {
        maxClients,
        maxLineBytes: MAX_LINE_BYTES,
        deadlines: { loginMs: timeouts.loginMs, sessionMs: timeouts.sessionMs },
        onClosed: (reason, session) =>
          logger.info({ remote: session.remoteAddress, reason, reply: session.error }, 'SMTP connection closed by the server'),
      });
      await listen(server, host, address.port);
      server.on('error', (err: Error) => logger.debug({ err: err.message }, 'SMTP connection error'));
      listeners.push({ server, host, security, guard });
      const bound = boundAddress(server, host);
      settings.status?.set('smtp-listener', `${bound.host}:${bound.port}`, {
        host: bound.host,
        port: bound.port,
        loopback: security.loopback,
        starttls: security.starttls,
        maxMessageBytes: settings.maxMessageBytes,
      });
      logger.info({ host: bound.host, port: bound.port, starttls: security.starttls }, 'SMTP submission listening');
    }
  } catch (err) {
    await Promise.all(listeners.map(({ server }) => close(server)));
    throw err;
  }
  return {
    addresses: () => listeners.map(({ server, host }) => boundAddress(server, host)),
    connectionCount: () => listeners.reduce((sum, { server }) => sum + server.connections.size, 0),
    closedCounts: () => {
      const total: ClosedCounts = {
        closedForErrors: 0,
        closedForLoginDeadline: 0,
        closedForSessionDeadline: 0,
        closedIdle: 0,
        closedForRoom: 0,
      };
      for (const { guard } of listeners) {
        const counts = guard.counts();
        for (const key of Object.keys(total) as Array<keyof ClosedCounts>) total[key] += counts[key];
      }
      return total;
    },
    async stop() {
      await Promise.all(
        listeners.map(async ({ server, host }) => {
          const bound = boundAddress(server, host);
          await close(server);
          settings.status?.delete('smtp-listener', `${bound.host}:${bound.port}`);
        }),
      );
    },
  };
}

/** The TLS options smtp-server passes on to Node (minimum version; security level 0 for TLSv1/1.1). */
function tlsOptions(o: SubmissionServerOptions): Partial<SMTPServerOptions> {
  if (!o.tls) return {};
  const minVersion = o.tls.minVersion ?? 'TLSv1.2';
  return {
    key: o.tls.key,
    cert: o.tls.cert,
    minVersion,
    ...(needsLegacyTls(minVersion) ? { ciphers: `${tls.DEFAULT_CIPHERS}:@SECLEVEL=0` } : {}),
  };
}

function serverOptions(
  settings: SubmissionServerOptions,
  security: ListenerSecurity,
  logger: Logger,
  timeouts: SubmissionTimeouts,
  maxClients: number,
  guard: () => SessionGuard,
  implicitTls = false,
): SMTPServerOptions {
  const smtpUtf8Offered = settings.smtpUtf8Offered ?? (() => false);
  const options: SMTPServerOptions = {
    ...(implicitTls ? { secure: true } : {}),
    name: os.hostname(),
    banner: 'hotbridge mail submission',
    // debug: connections and commands; trace: the dialogue (smtp-server hides AUTH data itself, and so do we).
    logger: (smtpLibraryLogger(logger, 'server') ?? false) as SMTPServerOptions['logger'],
    disableReverseLookup: true,
    // Mail clients open a few connections at most; a bound keeps a flood from exhausting the daemon,
    // and session-guard.ts makes room in it for a client that has not logged in yet.
    maxClients,
    size: settings.maxMessageBytes,
    rejectOversized: true,
    maxCommandLength: MAX_LINE_BYTES,
    socketTimeout: timeouts.idleMs,
    maxAllowedUnauthenticatedCommands: 10,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    authRequiredMessage: '5.7.0 Authentication required: log in with your account address and the local password (hotbridge password)',
    allowInsecureAuth: security.cleartextAuth,
    // On loopback STARTTLS is neither offered nor accepted; elsewhere smtp-server then refuses AUTH
    // before it (538), so a password never crosses the network in the clear.
    disabledCommands: security.starttls ? [] : ['STARTTLS'],
    ...(security.starttls || implicitTls ? tlsOptions(settings) : {}),
    // The relay cannot pass DSN requests or REQUIRETLS on (RFC 3461, RFC 8689): not offered, so their
    // parameters are refused (envelope-policy.ts).
    hideDSN: true,
    hideREQUIRETLS: true,
    // Checked in onRcptTo, so that the reply can name the limit.
    maxRecipients: 0,
    closeTimeout: CLOSE_TIMEOUT_MS,
    onConnect: (session, callback) => {
      guard().connected(session);
      // allowed_networks: anyone else is refused before the greeting.
      if (settings.admit && !settings.admit(session.remoteAddress))
        callback(smtpReply(554, 'Connections from your network are not allowed here'));
      else callback();
    },
    onClose: (session) => guard().closed(session),
    onAuth: (auth, session, callback) =>
      authenticate(settings, logger, guard(), auth, session).then((response) => callback(null, response), callback),
    onMailFrom: (address, session, callback) => callback(checkMailFrom(settings, logger, guard(), address, session)),
    onRcptTo: (address, session, callback) => callback(checkRcptTo(guard(), address, session)),
    onData: (stream, session, callback) => receive(settings, logger, stream, session).then((reply) => callback(null, reply), callback),
  };
  // smtp-server reads hideSMTPUTF8 at each EHLO: offered only while the providers offer it (RFC 6531
  // would have us pass UTF-8 addresses on, which needs the provider's SMTPUTF8 too).
  Object.defineProperty(options, 'hideSMTPUTF8', { get: () => !smtpUtf8Offered(), enumerable: true });
  return options;
}

async function authenticate(
  settings: SubmissionServerOptions,
  logger: Logger,
  guard: SessionGuard,
  auth: SMTPServerAuthentication,
  session: SMTPServerSession,
): Promise<SMTPServerAuthenticationResponse> {
  if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') throw smtpReply(504, '5.5.4 Unrecognized authentication type');
  const user = auth.username ?? '';
  const refused = (text: string): Error => {
    if (guard.failedLogin(session, MAX_FAILED_LOGINS))
      return smtpReply(421, `4.7.0 ${MAX_FAILED_LOGINS} failed logins, closing the connection`);
    // RFC 4954 §6: 535 5.7.8 for credentials that are wrong.
    return smtpReply(535, text);
  };
  // PLAIN carries an authorization identity (RFC 4616 §2); acting as another user is not offered. An
  // empty login name with the identity filled in is how some clients send the login itself: smtp-server
  // then takes that as the user, and so do we.
  if (auth.method === 'PLAIN' && auth.authzid && auth.authcid && auth.authzid.toLowerCase() !== auth.authcid.toLowerCase()) {
    logger.warn(
      { user: loginNameForLog(auth.authcid), authzid: loginNameForLog(auth.authzid), remote: session.remoteAddress },
      'SMTP login refused: authorization identity is another user',
    );
    throw refused('5.7.8 Acting as another user is not supported: leave the PLAIN authorization identity empty or the same as the login');
  }
  const signal = guard.closedSignal(session);
  let account: string | undefined;
  try {
    // verify() slows failures down per client address (runtime/local-auth.ts).
    account = await settings.auth.verify(user, auth.password ?? '', session.remoteAddress, { signal });
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'local password check failed');
    throw smtpReply(454, '4.7.0 Temporary authentication failure, try again later');
  }
  if (account === undefined) {
    // The client went away: nobody reads this reply.
    if (signal?.aborted) throw smtpReply(421, '4.4.2 Connection closed');
    logger.warn({ user: loginNameForLog(user), remote: session.remoteAddress, method: auth.method }, 'SMTP login refused');
    throw refused('5.7.8 Authentication failed: wrong account address or local password');
  }
  return { user: account };
}

/** Whether the MAIL FROM of this command declared SMTPUTF8 (smtp-server never clears its flag itself). */
function declaresSmtpUtf8(address: SMTPServerAddress): boolean {
  return address.args !== false && address.args?.SMTPUTF8 === true;
}

function checkMailFrom(
  settings: SubmissionServerOptions,
  logger: Logger,
  guard: SessionGuard,
  address: SMTPServerAddress,
  session: SMTPServerSession,
): Error | null {
  const login = loginOf(session);
  // smtp-server answers 530 before calling us when there is no login; this is a second lock on the door.
  if (login === undefined) return smtpReply(530, '5.7.0 Authentication required');
  const smtpUtf8 = declaresSmtpUtf8(address);
  const refusal =
    mailParameterRefusal(address.args, settings.smtpUtf8Offered?.() ?? false) ??
    addressCharsetRefusal(rawPath(guard.currentLine(session) ?? Buffer.from(`:<${address.address}>`)), 'sender', smtpUtf8);
  if (refusal) {
    session.envelope.smtpUtf8 = false;
    return refusalReply(refusal);
  }
  const senderProblem = senderRefusal(address.address, login, settings.accounts());
  if (senderProblem === undefined) return null;
  session.envelope.smtpUtf8 = false;
  logger.info({ account: login, sender: address.address }, 'sender refused');
  // 553: "mailbox name not allowed" (RFC 5321 §4.2.3), the reply for a sender the user may not use.
  return smtpReply(553, `5.7.1 Sender refused: ${senderProblem}`);
}

function checkRcptTo(guard: SessionGuard, address: SMTPServerAddress, session: SMTPServerSession): Error | null {
  const refusal =
    rcptParameterRefusal(address.args) ??
    addressCharsetRefusal(
      rawPath(guard.currentLine(session) ?? Buffer.from(`:<${address.address}>`)),
      'recipient',
      session.envelope.smtpUtf8 === true,
    );
  if (refusal) return refusalReply(refusal);
  const recipients = session.envelope.rcptTo;
  const key = address.address.toLowerCase();
  // A repeated recipient replaces its earlier entry (smtp-server), so it does not count twice.
  if (recipients.length >= MAX_RECIPIENTS && !recipients.some((rcpt) => rcpt.address.toLowerCase() === key)) {
    // RFC 5321 §4.5.3.1.10: 452, and the client sends the rest in another transaction.
    return smtpReply(452, `4.5.3 Too many recipients: at most ${MAX_RECIPIENTS} per message, send the rest in another message`);
  }
  return null;
}

/** Reads the message and queues it; resolves with the text of the 250 reply once it is durable. */
function receive(
  settings: SubmissionServerOptions,
  logger: Logger,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      // Past the limit the rest is read and dropped (smtp-server answers 552 with rejectOversized).
      if (stream.sizeExceeded) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    stream.once('error', (err: Error) => reject(smtpReply(451, `4.3.0 Local error while reading the message: ${err.message}`)));
    stream.once('end', () => {
      if (stream.sizeExceeded) {
        reject(smtpReply(552, `5.3.4 Message exceeds the maximum size of ${settings.maxMessageBytes} bytes`));
        return;
      }
      enqueue(settings, logger, Buffer.concat(chunks, size), session).then(resolve, reject);
    });
  });
}

async function enqueue(settings: SubmissionServerOptions, logger: Logger, raw: Buffer, session: SMTPServerSession): Promise<string> {
  const account = loginOf(session);
  const mailFrom = session.envelope.mailFrom;
  if (account === undefined || mailFrom === false) throw smtpReply(503, '5.5.1 Bad sequence of commands');
  const recipients = session.envelope.rcptTo.map((rcpt) => rcpt.address);
  try {
    const entry = await settings.store.enqueueOutbox({ account, from: mailFrom.address, recipients }, raw);
    logger.info({ account, id: entry.id, size: raw.length, recipients: recipients.length }, 'message queued for sending');
    return `Ok: queued as ${entry.id}`;
  } catch (err) {
    logger.error({ account, err: (err as Error).message }, 'could not queue a submitted message');
    // 452 4.3.1, "mail system full" (RFC 3463 §3.4): the disk is full; nothing was stored, the client keeps
    // the message and tries again later (RFC 5321 §4.2.5), as for 451.
    if (err instanceof StoreError && err.code === 'no-space')
      throw smtpReply(452, `4.3.1 Insufficient system storage: ${err.message}; try again later`);
    // 451: nothing was stored, the client keeps the message and tries again (RFC 5321 §4.2.5).
    throw smtpReply(451, '4.3.0 Local error: the message could not be stored, try again later');
  }
}

function listen(server: SMTPServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // The code, address and port stay on the error: the CLI turns EADDRINUSE into advice.
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(
        Object.assign(new Error(`cannot listen for SMTP on ${host}:${port}: ${err.message}`), {
          code: err.code,
          syscall: 'listen',
          address: host,
          port,
        }),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function boundAddress(server: SMTPServer, host: string): { host: string; port: number } {
  const address = server.server.address() as AddressInfo | null;
  return { host: address?.address ?? host, port: address?.port ?? 0 };
}

function close(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
