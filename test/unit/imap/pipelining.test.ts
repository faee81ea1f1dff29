// Pipelined commands (imaptest sends four to eight at once, mbsync and Thunderbird several): every one is
// answered, in order, and the answers go to the socket together instead of one write each. Real server,
// real sockets; the server's writes are counted on its side of the connection.
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { serverPerTest } from '../../helpers/imap-per-test.js';

const imap = serverPerTest();

const originalWrite = net.Socket.prototype.write;
afterEach(() => {
  net.Socket.prototype.write = originalWrite;
});

/** Counts the writes made on the server's end of connections from `clientPort`. */
function countServerWrites(clientPort: () => number | undefined): { count: number } {
  const counter = { count: 0 };
  net.Socket.prototype.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
    if (this.remotePort !== undefined && this.remotePort === clientPort()) counter.count++;
    return originalWrite.apply(this, args);
  } as net.Socket['write'];
  return counter;
}

describe('pipelined commands', () => {
  test('twenty commands sent at once get twenty answers, in order, in a few writes', async () => {
    const server = await imap.start();
    const client = await imap.loggedIn(server.port);
    const writes = countServerWrites(() => client.socket.localPort);
    const tags = Array.from({ length: 20 }, (_, i) => `p${i}`);
    client.send(tags.map((tag, i) => `${tag} ${i % 2 === 0 ? 'CAPABILITY' : 'NOOP'}\r\n`).join(''));
    const lines = await client.readUntilTagged(tags.at(-1)!);
    const tagged = lines.filter((line) => /^p\d+ /.test(line));
    expect(tagged).toEqual(tags.map((tag, i) => `${tag} OK ${i % 2 === 0 ? 'CAPABILITY' : 'NOOP'} completed`));
    // One write when nothing came between the commands; a loaded machine may split them, never into twenty.
    expect(writes.count).toBeGreaterThanOrEqual(1);
    expect(writes.count).toBeLessThanOrEqual(5);
  });
});
