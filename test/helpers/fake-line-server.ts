// The socket side of the scripted servers some tests need where no real server can be made to give the
// answers under test (each test says why): listens on 127.0.0.1 port 0 and hands each CRLF line a
// client sends to the test's handler, which answers as it likes.
import net from 'node:net';
import { onEachLine } from './each-line.js';

export interface FakePeer {
  socket: net.Socket;
  /** Writes unless the socket is gone (a test may have cut it on purpose). */
  write(data: string | Buffer): void;
}

export interface FakeLineServer {
  port: number;
  /** Destroys every open connection and stops listening. */
  close(): Promise<void>;
}

/**
 * `accept` runs once per connection (it may greet) and returns the handler for that connection's lines,
 * called in order with each line without its CRLF (latin1). `noDelay` turns Nagle's algorithm off,
 * so that each write goes out as the test split it.
 */
export async function startFakeLineServer(
  accept: (peer: FakePeer) => (line: string) => void,
  options: { noDelay?: boolean } = {},
): Promise<FakeLineServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    if (options.noDelay) socket.setNoDelay(true);
    socket.on('error', () => undefined); // the client may reset; that is the point of some tests
    socket.on('close', () => sockets.delete(socket));
    const onLine = accept({
      socket,
      write: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
    });
    onEachLine(socket, onLine, { separator: '\r\n', encoding: 'latin1' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
