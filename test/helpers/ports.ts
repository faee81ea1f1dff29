// Free TCP ports for servers that must be told their port up front (Dovecot, Postfix, our daemon's
// config). They are picked below the kernel's ephemeral range, checked free by listening on them, and
// handed on once the listener is closed. Below that range, because the kernel hands out ports in it by
// itself: as the local end of every outgoing connection, and to every listen on port 0. A port picked
// there could be taken that way the moment it is unbound, above all by a test that stops its daemon and
// starts it again on the same port while other test files connect to their servers beside it (it
// happened with two suites side by side). A small race remains (two pickers drawing the same port),
// so callers that start external servers still retry with fresh ports on "address in use" (startLab does).
import fs from 'node:fs';
import net from 'node:net';

/** Where ports are drawn from: 20000 up to the ephemeral range (Linux says where it starts; 49152 elsewhere). */
function pickingRange(): { from: number; to: number } | undefined {
  let ephemeralLow = 49152;
  try {
    ephemeralLow = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the IANA ephemeral range.
  }
  const range = { from: 20000, to: ephemeralLow - 1 };
  return range.to - range.from >= 1000 ? range : undefined;
}

function listenOn(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

/** A listener on a port below the ephemeral range (the kernel's choice if that range leaves no room). */
async function listenOnOwnPort(host: string): Promise<net.Server> {
  const range = pickingRange();
  for (let attempt = 0; range && attempt < 100; attempt++) {
    const port = range.from + Math.floor(Math.random() * (range.to - range.from + 1));
    try {
      return await listenOn(host, port);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
    }
  }
  return listenOn(host, 0);
}

function portOf(server: net.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');
  return address.port;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One port that was free on `host` a moment ago. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port;
}

/** `n` distinct ports: all listeners are open at the same time, so the kernel cannot hand out one twice. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listenOnOwnPort(host));
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}
