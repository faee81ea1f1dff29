/**
 * The local submission server (RFC 6409) that old mail clients send through. Every transaction needs a
 * local login (never an open relay, also not from localhost), the sender must belong to the logged-in
 * account, and the client hears 250 only once the message and its envelope are durable in the outbox
 * (ARCHITECTURE.md invariant 2). The outbox worker (upstream/smtp) takes it from there.
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
import type { AccountConfig, ListenAddress } from '../../config/types.js';
import type { LocalAuthenticator } from '../../runtime/local-auth.js';
import type { Logger } from '../../runtime/logger.js';
import { smtpLibraryLogger } from '../../runtime/smtp-log.js';
import type { StatusBoard } from '../../runtime/status-board.js';
import type { Store } from '../../store/index.js';
import { listenerSecurity, type ListenerSecurity } from './listen-policy.js';
import { senderRefusal } from './sender-policy.js';

export interface SubmissionServerOptions {
  listen: ListenAddress[];
  store: Store;
  auth: LocalAuthenticator;
  logger: Logger;
  /** Advertised in EHLO SIZE (RFC 1870) and enforced: a larger message gets 552. */
  maxMessageBytes: number;
  /** The configured accounts, read at each MAIL FROM (address + send_as); a reload takes effect at once. */
  accounts: () => readonly AccountConfig[];
  /** Required on non-loopback addresses: STARTTLS is then offered and required before AUTH. */
  tls?: { cert: Buffer; key: Buffer };
  /** Where the listeners report themselves (section `smtp-listener`). */
  status?: StatusBoard;
}

export interface SubmissionServer {
  addresses(): Array<{ host: string; port: number }>;
  /** Clients connected now, over all listeners. */
  connectionCount(): number;
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

/** Opens one listener per configured address; port 0 picks a free port (see addresses()). */
export async function startSubmissionServer(o: SubmissionServerOptions): Promise<SubmissionServer> {
  const logger = o.logger.child({ component: 'smtp-submission' });
  const listeners: Array<{ server: SMTPServer; host: string; security: ListenerSecurity }> = [];
  try {
    for (const address of o.listen) {
      const host = address.host.replace(/^\[(.*)\]$/, '$1');
      const security = listenerSecurity(host, o.tls !== undefined);
      const server = new SMTPServer(serverOptions(o, security, logger));
      await listen(server, host, address.port);
      server.on('error', (err: Error) => logger.debug({ err: err.message }, 'SMTP connection error'));
      listeners.push({ server, host, security });
      const bound = boundAddress(server, host);
      o.status?.set('smtp-listener', `${bound.host}:${bound.port}`, {
        host: bound.host,
        port: bound.port,
        loopback: security.loopback,
        starttls: security.starttls,
        maxMessageBytes: o.maxMessageBytes,
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
    async stop() {
      await Promise.all(
        listeners.map(async ({ server, host }) => {
          const bound = boundAddress(server, host);
          await close(server);
          o.status?.delete('smtp-listener', `${bound.host}:${bound.port}`);
        }),
      );
    },
  };
}

function serverOptions(o: SubmissionServerOptions, security: ListenerSecurity, logger: Logger): SMTPServerOptions {
  return {
    name: os.hostname(),
    banner: 'hotbridge mail submission',
    // debug: connections and commands; trace: the dialogue (smtp-server hides AUTH data itself, and so do we).
    logger: (smtpLibraryLogger(logger, 'server') ?? false) as SMTPServerOptions['logger'],
    disableReverseLookup: true,
    // Mail clients open a few connections at most; a bound keeps a flood from exhausting the daemon.
    maxClients: MAX_SMTP_CLIENTS,
    size: o.maxMessageBytes,
    rejectOversized: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    authRequiredMessage: 'Authentication required: log in with your account address and the local password (hotbridge password)',
    allowInsecureAuth: security.cleartextAuth,
    // On loopback STARTTLS is neither offered nor accepted; elsewhere smtp-server then refuses AUTH
    // before it (538), so a password never crosses the network in the clear.
    disabledCommands: security.starttls ? [] : ['STARTTLS'],
    ...(security.starttls && o.tls ? { key: o.tls.key, cert: o.tls.cert, minVersion: 'TLSv1.2' as const } : {}),
    // The provider would have to accept UTF-8 addresses too (RFC 6531); old clients do not send them.
    hideSMTPUTF8: true,
    maxRecipients: MAX_RECIPIENTS,
    closeTimeout: CLOSE_TIMEOUT_MS,
    onAuth: (auth, session, callback) => authenticate(o, logger, auth, session).then((response) => callback(null, response), callback),
    onMailFrom: (address, session, callback) => callback(checkSender(o, logger, address, session)),
    onData: (stream, session, callback) => receive(o, logger, stream, session).then((reply) => callback(null, reply), callback),
  };
}

async function authenticate(
  o: SubmissionServerOptions,
  logger: Logger,
  auth: SMTPServerAuthentication,
  session: SMTPServerSession,
): Promise<SMTPServerAuthenticationResponse> {
  if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') throw smtpReply(504, 'Unrecognized authentication type');
  let account: string | undefined;
  try {
    // verify() slows failures down per client address (runtime/local-auth.ts).
    account = await o.auth.verify(auth.username ?? '', auth.password ?? '', session.remoteAddress);
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'local password check failed');
    throw smtpReply(454, 'Temporary authentication failure, try again later');
  }
  if (account === undefined) {
    logger.warn({ user: auth.username, remoteAddress: session.remoteAddress }, 'SMTP login refused');
    // RFC 4954 §6: 535 for credentials that are wrong.
    throw smtpReply(535, 'Authentication failed: wrong account address or local password');
  }
  return { user: account };
}

function checkSender(o: SubmissionServerOptions, logger: Logger, address: SMTPServerAddress, session: SMTPServerSession): Error | null {
  const login = loginOf(session);
  // smtp-server answers 530 before calling us when there is no login; this is a second lock on the door.
  if (login === undefined) return smtpReply(530, 'Authentication required');
  const refusal = senderRefusal(address.address, login, o.accounts());
  if (refusal === undefined) return null;
  logger.info({ account: login, sender: address.address }, 'sender refused');
  // 553: "mailbox name not allowed" (RFC 5321 §4.2.3), the reply for a sender the user may not use.
  return smtpReply(553, `Sender refused: ${refusal}`);
}

/** Reads the message and queues it; resolves with the text of the 250 reply once it is durable. */
function receive(o: SubmissionServerOptions, logger: Logger, stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      // Past the limit the rest is read and dropped (smtp-server answers 552 with rejectOversized).
      if (stream.sizeExceeded) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    stream.once('error', (err: Error) => reject(smtpReply(451, `Local error while reading the message: ${err.message}`)));
    stream.once('end', () => {
      if (stream.sizeExceeded) {
        reject(smtpReply(552, `Message exceeds the maximum size of ${o.maxMessageBytes} bytes`));
        return;
      }
      enqueue(o, logger, Buffer.concat(chunks, size), session).then(resolve, reject);
    });
  });
}

async function enqueue(o: SubmissionServerOptions, logger: Logger, raw: Buffer, session: SMTPServerSession): Promise<string> {
  const account = loginOf(session);
  const mailFrom = session.envelope.mailFrom;
  if (account === undefined || mailFrom === false) throw smtpReply(503, 'Bad sequence of commands');
  const recipients = session.envelope.rcptTo.map((rcpt) => rcpt.address);
  try {
    const entry = await o.store.enqueueOutbox({ account, from: mailFrom.address, recipients }, raw);
    logger.info({ account, id: entry.id, size: raw.length, recipients: recipients.length }, 'message queued for sending');
    return `Ok: queued as ${entry.id}`;
  } catch (err) {
    logger.error({ account, err: (err as Error).message }, 'could not queue a submitted message');
    // 451: nothing was stored, the client keeps the message and tries again (RFC 5321 §4.2.5).
    throw smtpReply(451, 'Local error: the message could not be stored, try again later');
  }
}

function listen(server: SMTPServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // The code, address and port stay on the error: the CLI turns EADDRINUSE into advice.
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(Object.assign(new Error(`cannot listen for SMTP on ${host}:${port}: ${err.message}`), { code: err.code, syscall: 'listen', address: host, port }));
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
