// The connection caps: all of 127.0.0.0/8 is one address for the per-address cap (Linux answers on every
// one of them, so a local client could otherwise take a fresh source address per connection), and a
// global cap refuses connections past `maxConnections` with BYE. Real server, real sockets.
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { connectionCapKey } from '../../../src/downstream/imap/server.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { SocketReader } from '../../helpers/socket-reader.js';

const imap = serverPerTest();

/** A raw connection from a chosen loopback source address; closed after the test. */
const opened: net.Socket[] = [];
afterEach(() => {
  for (const socket of opened.splice(0)) socket.destroy();
});

async function greetingFrom(port: number, localAddress: string): Promise<{ greeting: string; reader: SocketReader }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
  opened.push(socket);
  const reader = new SocketReader(socket);
  const line = await reader.line(5000);
  return { greeting: line?.toString('latin1').trimEnd() ?? '(closed)', reader };
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('connection caps', () => {
  test('every loopback address counts as one address', () => {
    for (const address of ['127.0.0.1', '127.0.3.3', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::ffff:127.9.9.9']) {
      expect(connectionCapKey(address)).toBe('loopback');
    }
    expect(connectionCapKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(connectionCapKey('192.0.2.7')).toBe('192.0.2.7');
    expect(connectionCapKey('2001:DB8::1')).toBe('2001:db8::1');
    expect(connectionCapKey('128.0.0.1')).toBe('128.0.0.1');
  });

  test('other 127.x.y.z source addresses do not get round the per-address cap', async () => {
    const server = await imap.start({ maxConnectionsPerAddress: 2 });
    expect((await greetingFrom(server.port, '127.0.0.1')).greeting).toMatch(/^\* OK /);
    expect((await greetingFrom(server.port, '127.0.2.2')).greeting).toMatch(/^\* OK /);
    const third = await greetingFrom(server.port, '127.0.3.3');
    expect(third.greeting).toBe('* BYE Too many connections from your address');
    expect(await third.reader.closesWithin(3000)).toBe(true);
    expect(server.server.connectionCount()).toBe(2);
  });

  test('past maxConnections every new connection gets BYE, and a slot frees when one closes', async () => {
    const server = await imap.start({ maxConnections: 3, maxConnectionsPerAddress: 50 });
    const first = await imap.connect(server.port);
    for (let i = 0; i < 2; i++) expect(await (await imap.connect(server.port)).readLine()).toMatch(/^\* OK /);
    expect(await first.readLine()).toMatch(/^\* OK /);
    const refused = await imap.connect(server.port);
    expect(await refused.readLine()).toBe('* BYE Too many connections');
    expect(await refused.closesWithin(3000)).toBe(true);
    expect(server.server.connectionCount()).toBe(3);
    first.close();
    await waitFor(() => server.server.connectionCount() < 3);
    expect(await (await imap.connect(server.port)).readLine()).toMatch(/^\* OK /);
  });
});
