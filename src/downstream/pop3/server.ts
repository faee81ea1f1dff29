/**
 * The local POP3 server (RFC 1939) the daemon starts: for clients and devices that speak only POP3 (old
 * phones, Outlook Express set up as POP, scripts using poplib). It serves each account's INBOX from the
 * store. Listeners are plain (STLS offered when a certificate is present) or implicit TLS (POP3S);
 * caps on connections per client address and overall; a client outside the allowed networks is closed
 * before the greeting.
 */
import net from 'node:net';
import tls, { type SecureContext } from 'node:tls';
import { clientAddressKey, isLoopbackHost } from '../../config/loopback.js';
import type { Logger } from '../../runtime/logger.js';
import type { VerifyLogin } from './command.js';
import { Pop3Connection } from './connection.js';
import type { Pop3Maildrop } from './maildrop.js';
import { SizeCache } from './size-cache.js';

export interface Pop3Listener {
  host: string;
  port: number;
  /** 'implicit': TLS from the first byte (POP3S, port 995 style). */
  tls?: 'implicit';
}

export interface Pop3ServerOptions {
  listen: Pop3Listener[];
  maildrop: Pop3Maildrop;
  verify: VerifyLogin;
  logger: Logger;
  /** The current certificate (STLS, and POP3S listeners); undefined: none. */
  tls?: () => SecureContext | undefined;
  /** Plaintext logins on non-loopback addresses without TLS (`allow_plaintext_lan`). */
  allowPlaintextLan?: boolean;
  /** Whether a client address may connect at all (allowed_networks); checked before the greeting. */
  admit?: (remoteAddress: string) => boolean;
  maxConnectionsPerAddress?: number;
  maxConnections?: number;
  /** Default: 60 s to log in (from the connect), 10 min idle after (RFC 1939 §3). */
  timeouts?: { authorization: number; transaction: number };
}

export interface Pop3Server {
  addresses(): Array<{ host: string; port: number; tls?: 'implicit' }>;
  connectionCount(): number;
  /** Sessions started since the server started (for status and /metrics). */
  sessionsTotal(): number;
  /** Stops listening and ends every session without UPDATE (nothing is deleted). */
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUTS = { authorization: 60_000, transaction: 10 * 60_000 };
const STOP_GRACE_MS = 2_000;

function listenOn(server: net.Server, listener: Pop3Listener): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        Object.assign(new Error(`cannot listen for POP3 on ${listener.host}:${listener.port}: ${err.message}`), {
          code: err.code,
          address: listener.host,
          port: listener.port,
        }),
      );
    server.once('error', onError);
    server.listen({ host: listener.host, port: listener.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function startPop3Server(options: Pop3ServerOptions): Promise<Pop3Server> {
  const { logger } = options;
  const context = {
    maildrop: options.maildrop,
    verify: options.verify,
    logger,
    sizes: new SizeCache(),
    ...(options.tls ? { tls: options.tls } : {}),
    allowPlaintextLan: options.allowPlaintextLan ?? false,
  };
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const maxConnections = options.maxConnections ?? 200;
  const maxPerAddress = options.maxConnectionsPerAddress ?? 20;
  const connections = new Set<Pop3Connection>();
  const perAddress = new Map<string, number>();
  const servers: Array<{ server: net.Server; listener: Pop3Listener }> = [];
  let sessionsTotal = 0;

  const refuse = (socket: net.Socket, text: string) => {
    socket.end(`-ERR [SYS/TEMP] ${text}\r\n`);
    setTimeout(() => socket.destroy(), STOP_GRACE_MS).unref();
  };

  const accept = (socket: net.Socket, listener: Pop3Listener) => {
    socket.on('error', () => undefined);
    const remote = socket.remoteAddress ?? 'unknown';
    if (options.admit && !options.admit(remote)) {
      socket.destroy();
      return;
    }
    const key = clientAddressKey(socket.remoteAddress);
    const count = perAddress.get(key) ?? 0;
    if (connections.size >= maxConnections) {
      logger.warn({ remote, limit: maxConnections }, 'POP3 connection refused: too many connections');
      refuse(socket, 'Too many connections');
      return;
    }
    if (count >= maxPerAddress) {
      logger.warn({ remote, limit: maxPerAddress }, 'POP3 connection refused: too many from this address');
      refuse(socket, 'Too many connections from your address');
      return;
    }
    let stream: net.Socket = socket;
    if (listener.tls === 'implicit') {
      const secureContext = options.tls?.();
      if (!secureContext) {
        socket.destroy();
        return;
      }
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext });
      secure.on('error', (err) => logger.debug({ remote, err: err.message }, 'POP3S handshake failed'));
      stream = secure;
    }
    perAddress.set(key, count + 1);
    sessionsTotal += 1;
    socket.setNoDelay(true);
    const connection = new Pop3Connection(stream, context, {
      timeouts,
      loopback: socket.localAddress !== undefined && isLoopbackHost(socket.localAddress),
      secure: listener.tls === 'implicit',
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
    for (const listener of options.listen) {
      if (listener.tls === 'implicit' && !options.tls?.())
        throw new Error(
          `POP3S on ${listener.host}:${listener.port} needs a certificate (run \`hotbridge cert\`, or set tls_cert and tls_key)`,
        );
      // Half-open: a script that sends its commands and closes its side still gets every answer.
      const server = net.createServer({ allowHalfOpen: true }, (socket) => accept(socket, listener));
      await listenOn(server, listener);
      servers.push({ server, listener });
      logger.info({ host: listener.host, port: (server.address() as net.AddressInfo).port, tls: listener.tls ?? 'stls' }, 'POP3 listening');
    }
  } catch (err) {
    await Promise.all(servers.map(({ server }) => new Promise((resolve) => server.close(resolve))));
    throw err;
  }

  return {
    addresses: () =>
      servers.map(({ server, listener }) => {
        const address = server.address() as net.AddressInfo;
        return { host: address.address, port: address.port, ...(listener.tls ? { tls: listener.tls } : {}) };
      }),
    connectionCount: () => connections.size,
    sessionsTotal: () => sessionsTotal,
    async stop() {
      const closing = Promise.all(servers.map(({ server }) => new Promise((resolve) => server.close(resolve))));
      const open = [...connections];
      for (const connection of open) connection.shutdown();
      const allClosed = Promise.all(open.map((connection) => connection.closed));
      await Promise.race([allClosed, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
      for (const connection of open) connection.destroy();
      await allClosed;
      await closing;
    },
  };
}
