/**
 * The local ports hotbridge listens on: free, or held by the hotbridge of this data dir (which then answers
 * on its status socket and lists the address among its listeners), or a problem with a fix.
 */
import net from 'node:net';
import type { ListenAddress } from '../../config/types.js';
import { fail, ok, type CheckResult } from './report.js';

export interface RunningDaemon {
  pid?: number;
  /** Every address its IMAP, SMTP and status listeners hold. */
  addresses: ListenAddress[];
}

export const hostPort = (address: ListenAddress): string =>
  address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;

/** Tries to listen on the address; resolves with the error code, or undefined when the port is free. */
export function tryListen(address: ListenAddress): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EUNKNOWN'));
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
      server.close(() => resolve(undefined));
    });
  });
}

function sameAddress(a: ListenAddress, b: ListenAddress): boolean {
  const norm = (host: string) => host.toLowerCase().replace(/^::ffff:/, '');
  return (
    a.port === b.port && (norm(a.host) === norm(b.host) || (norm(a.host) === 'localhost' && (b.host === '127.0.0.1' || b.host === '::1')))
  );
}

/**
 * What answers on a port that is taken: hotbridge's IMAP and SMTP greetings name it, and so does its
 * status page. Used when the port's holder is not the daemon of this data dir as seen through its status
 * socket (another user's, such as the system service's, or one that did not answer in time).
 */
export function heldByHotbridge(address: ListenAddress, speaksFirst: boolean, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.host, port: address.port });
    let text = '';
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => {
      // IMAP (RFC 9051 §7.1) and SMTP (RFC 5321 §4.2) greet first, and nothing is said to them; the status
      // page speaks only when asked.
      if (!speaksFirst)
        socket.write(`GET / HTTP/1.0\r\nHost: ${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (/hotbridge/i.test(text)) done(true);
      else if (text.length > 4096) done(false);
    });
    socket.on('error', () => done(false));
    socket.on('end', () => done(/hotbridge/i.test(text)));
  });
}

/**
 * One line for one configured listen address. `what` is "IMAP", "SMTP" or "status page"; `key` the config
 * key to change (`[imap] listen`).
 */
export async function checkListenAddress(
  what: string,
  key: string,
  address: ListenAddress,
  configFile: string,
  daemon: RunningDaemon | undefined,
): Promise<CheckResult> {
  const shown = hostPort(address);
  const code = await tryListen(address);
  if (code === undefined) return ok(`${what} ${shown} is free`);
  if (code === 'EADDRINUSE') {
    if (daemon && daemon.addresses.some((held) => sameAddress(held, address))) {
      return ok(`${what} ${shown} is in use by hotbridge itself (running${daemon.pid ? `, pid ${daemon.pid}` : ''})`);
    }
    if (await heldByHotbridge(address, what !== 'status page')) {
      if (!daemon)
        return ok(
          `${what} ${shown} is in use by a running hotbridge (its status is not readable from here: the system service, another user's, or one still starting)`,
        );
      return fail(
        `${what} ${shown} is in use by another hotbridge (not the one of this data dir)`,
        `two hotbridges cannot share a port: stop the other one, or give this config other ports in ${key} of ${configFile}`,
      );
    }
    return fail(
      `${what} ${shown} is in use by another program`,
      `stop that program (\`ss -ltnp 'sport = :${address.port}'\` or \`lsof -i :${address.port}\` names it),\n` +
        `or pick another port in ${key} of ${configFile} and give the mail client that port.` +
        (daemon ? '' : '\nIf it is another hotbridge with another data dir, stop that one first.'),
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') {
    const ipv6 = address.host.includes(':');
    return fail(
      `${what} ${shown}: this computer has no such address${ipv6 ? ' (IPv6 is switched off here)' : ''}`,
      `remove "${shown}" from ${key} in ${configFile}${ipv6 ? ' (IPv4 127.0.0.1 is enough for mail clients that say "localhost")' : ''}`,
    );
  }
  if (code === 'EACCES') {
    return fail(
      `${what} ${shown}: ports below 1024 need privileges`,
      `use a port above 1024 in ${key} of ${configFile} (the defaults are 1143 for IMAP and 1025 for SMTP),\nor run the system service, which is granted CAP_NET_BIND_SERVICE for it: sudo hotbridge service install --system`,
    );
  }
  return fail(`${what} ${shown}: cannot listen (${code})`, `check ${key} in ${configFile}`);
}
