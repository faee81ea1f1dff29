/**
 * The IMAP4rev1 server (RFC 3501) the daemon starts: listeners on the configured addresses, caps on
 * connections (per client address and overall), and one ImapConnection per client. Plaintext on
 * loopback is the point (old clients cannot do modern TLS); a certificate turns on STARTTLS, and on
 * non-loopback addresses login then waits for it (LOGINDISABLED).
 */
import net from 'node:net';
import tls from 'node:tls';
import { DEFAULTS } from '../../config/defaults.js';
import type { ListenAddress, TlsMinVersion } from '../../config/types.js';
import { secureContext } from '../../runtime/tls-material.js';
import type { LocalAuthenticator } from '../../runtime/local-auth.js';
import type { Logger } from '../../runtime/logger.js';
import type { ImapStore } from '../../store/index.js';
import type { IdleTiming, ImapCounters, ServerContext } from './command.js';
import { ImapConnection } from './connection.js';
import { clientAddressKey, isLoopbackHost } from '../../config/loopback.js';

/** The key the per-address connection cap counts by (see clientAddressKey). */
export const connectionCapKey = clientAddressKey;
import { RecentTracker } from './recent.js';
import { BlobCache } from './blob-cache.js';
import { MailboxChanges } from './mailbox-changes.js';

/** What the daemon passes to start the IMAP server. */
export interface ImapServerOptions {
  /** Default 127.0.0.1:1143 and [::1]:1143 (from the config); port 0 picks a free port. */
  listen: ListenAddress[];
  store: ImapStore;
  auth: LocalAuthenticator;
  logger: Logger;
  /** Literals above this are refused before a byte is buffered; also APPENDLIMIT (RFC 7889). */
  maxLiteralBytes: number;
  /** Every loopback address (127.0.0.0/8, ::1) counts as one address: any local program can use them all. */
  maxConnectionsPerAddress: number;
  /** Connections open at once from all addresses together; default 500. */
  maxConnections?: number;
  /**
   * A certificate turns on STARTTLS (and LOGINDISABLED before it on non-loopback addresses) and allows
   * implicit-TLS listeners; minVersion defaults to TLSv1.2 (see runtime/tls-material.ts for TLSv1).
   */
  tls?: { cert: Buffer; key: Buffer; minVersion?: TlsMinVersion };
  /** IMAPS (RFC 8314 implicit TLS, port 993 style) addresses; they need `tls`. */
  tlsListen?: ListenAddress[];
  /** Plaintext logins on non-loopback addresses without TLS (`allow_plaintext_lan`). */
  allowPlaintextLan?: boolean;
  /** Whether a client address may connect at all (allowed_networks), checked before the greeting. */
  admit?: (remoteAddress: string | undefined) => boolean;
  /** Autologout; defaults 60 s before login, 30 min after (RFC 3501 §5.4). */
  idleTimeoutMs?: { unauthenticated: number; authenticated: number };
  /**
   * IDLE (RFC 2177): keep-alive interval (default 2 min, as Dovecot's imap_idle_notify_interval) and
   * the longest IDLE without DONE (default 29 min, then BYE).
   */
  idle?: Partial<IdleTiming>;
  /**
   * An idling client that lets more than `bytes` (default 4 MiB) of updates wait unread, and does not
   * catch up within `graceMs` (default 10 s), gets BYE and is cut off.
   */
  idleOutputLimit?: Partial<{ bytes: number; graceMs: number }>;
}

/** A running IMAP server. */
export interface ImapServer {
  /** The addresses actually listened on (the real port when 0 was asked for). */
  addresses(): Array<{ host: string; port: number }>;
  connectionCount(): number;
  /** What the server counted since it started. */
  counters(): Readonly<ImapCounters>;
  /** Stops listening, says BYE to every client and waits for the connections to close. */
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUTS = { unauthenticated: 60_000, authenticated: 30 * 60_000 };
const DEFAULT_IDLE: IdleTiming = { keepaliveMs: 2 * 60_000, limitMs: 29 * 60_000 };
const DEFAULT_MAX_CONNECTIONS = DEFAULTS.imapMaxConnections;
const DEFAULT_IDLE_OUTPUT_LIMIT = { bytes: 4 * 1024 * 1024, graceMs: 10_000 };
/** How long stop() waits for clients to close after BYE before cutting them off. */
const STOP_GRACE_MS = 2_000;

function listen(server: net.Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Starts listening on every configured address; rejects if one cannot be bound. */
export async function startImapServer(options: ImapServerOptions): Promise<ImapServer> {
  const { store, logger } = options;
  const mailboxes = store.listAccounts().flatMap((account) => store.listMailboxes(account));
  const context: ServerContext = {
    store,
    auth: options.auth,
    logger,
    recent: new RecentTracker(mailboxes),
    blobs: new BlobCache((blobId) => store.getBlob(blobId)),
    changes: new MailboxChanges(store.changes),
    maxLiteralBytes: options.maxLiteralBytes,
    idle: { ...DEFAULT_IDLE, ...options.idle },
    counters: { closedForBadCommands: 0 },
    ...(options.tls ? { tls: secureContext({ ...options.tls, origin: 'imap' }, options.tls.minVersion ?? 'TLSv1.2') } : {}),
  };
  const timeouts = options.idleTimeoutMs ?? DEFAULT_TIMEOUTS;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const idleOutputLimit = { ...DEFAULT_IDLE_OUTPUT_LIMIT, ...options.idleOutputLimit };
  const connections = new Set<ImapConnection>();
  const perAddress = new Map<string, number>();
  const servers: net.Server[] = [];

  const refuse = (socket: net.Socket, text: string) => {
    socket.end(`* BYE ${text}\r\n`);
    setTimeout(() => socket.destroy(), STOP_GRACE_MS).unref();
  };

  const accept = (socket: net.Socket, implicitTls: boolean) => {
    const remote = socket.remoteAddress ?? 'unknown';
    if (options.admit && !options.admit(socket.remoteAddress)) {
      socket.destroy();
      return;
    }
    const key = clientAddressKey(socket.remoteAddress);
    const count = perAddress.get(key) ?? 0;
    socket.on('error', () => undefined);
    if (connections.size >= maxConnections) {
      logger.warn({ remote, limit: maxConnections }, 'IMAP connection refused: too many connections');
      refuse(socket, 'Too many connections');
      return;
    }
    if (count >= options.maxConnectionsPerAddress) {
      logger.warn({ remote, limit: options.maxConnectionsPerAddress }, 'IMAP connection refused: too many from this address');
      refuse(socket, 'Too many connections from your address');
      return;
    }
    perAddress.set(key, count + 1);
    socket.setNoDelay(true);
    let stream: net.Socket = socket;
    if (implicitTls && context.tls) {
      stream = new tls.TLSSocket(socket, { isServer: true, secureContext: context.tls });
      stream.on('error', () => undefined);
    }
    // Plaintext login is fine on loopback, and where the user allowed it for the home network.
    const plaintextOk = (socket.localAddress !== undefined && isLoopbackHost(socket.localAddress)) || options.allowPlaintextLan === true;
    const connection = new ImapConnection(stream, context, {
      autologoutMs: timeouts,
      loopback: plaintextOk,
      idleOutputLimit,
      secure: implicitTls,
    });
    connections.add(connection);
    void connection.closed.then(() => {
      connections.delete(connection);
      const left = (perAddress.get(key) ?? 1) - 1;
      if (left <= 0) perAddress.delete(key);
      else perAddress.set(key, left);
    });
    connection.start();
  };

  try {
    const all = [
      ...options.listen.map((address) => ({ address, implicitTls: false })),
      ...(options.tlsListen ?? []).map((address) => ({ address, implicitTls: true })),
    ];
    for (const { address, implicitTls } of all) {
      if (implicitTls && !context.tls)
        throw new Error(
          `IMAPS on ${address.host}:${address.port} needs a certificate (run \`hotbridge cert\`, or set imap.tls_cert and imap.tls_key)`,
        );
      // Half-open: a client that sends its commands and then shuts down its side (a script piping
      // into nc) still gets every answer before the server closes.
      const server = net.createServer({ allowHalfOpen: true }, (socket) => accept(socket, implicitTls));
      await listen(server, address);
      servers.push(server);
      logger.info(
        { host: address.host, port: (server.address() as net.AddressInfo).port, ...(implicitTls ? { tls: 'implicit' } : {}) },
        'IMAP listening',
      );
    }
  } catch (err) {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    throw err;
  }

  return {
    addresses: () =>
      servers.map((server) => {
        const address = server.address() as net.AddressInfo;
        return { host: address.address, port: address.port };
      }),
    connectionCount: () => connections.size,
    counters: () => ({ ...context.counters }),
    async stop() {
      const closing = Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      const open = [...connections];
      for (const connection of open) connection.shutdown('Server shutting down');
      const allClosed = Promise.all(open.map((connection) => connection.closed));
      const deadline = new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
      await Promise.race([allClosed, deadline]);
      for (const connection of open) connection.destroy();
      await allClosed;
      await closing;
    },
  };
}
