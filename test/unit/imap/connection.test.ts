// Connection-level behaviour of the server: autologout, the per-address connection cap, over-long
// lines on a real socket, shutdown, and backpressure on a large FETCH to a client that does not read.
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { PASSWORD, USER, type LineClient } from '../../helpers/imap-server.js';

const imap = serverPerTest();

const closed = (client: LineClient): Promise<boolean> => client.closesWithin(3000);

describe('IMAP connections', () => {
  test('an idle connection is logged out (shorter before login than after)', async () => {
    const server = await imap.start({ idleTimeoutMs: { unauthenticated: 200, authenticated: 600 } });
    const anonymous = await imap.connect(server.port);
    const loggedIn = await imap.connect(server.port);
    await anonymous.readLine();
    await loggedIn.readLine();
    await loggedIn.command('a', `LOGIN ${USER} ${PASSWORD}`);
    expect(await anonymous.readLine(1000)).toBe('* BYE Autologout; idle for too long');
    expect(await closed(anonymous)).toBe(true);
    expect(loggedIn.closed).toBe(false);
    expect(await loggedIn.readLine(2000)).toBe('* BYE Autologout; idle for too long');
    expect(await closed(loggedIn)).toBe(true);
  });

  test('at most N connections per client address', async () => {
    const server = await imap.start({ maxConnectionsPerAddress: 2 });
    const first = await imap.connect(server.port);
    const second = await imap.connect(server.port);
    expect(await first.readLine()).toMatch(/^\* OK/);
    expect(await second.readLine()).toMatch(/^\* OK/);
    const third = await imap.connect(server.port);
    expect(await third.readLine()).toBe('* BYE Too many connections from your address');
    expect(await closed(third)).toBe(true);
    expect(server.server.connectionCount()).toBe(2);
    first.close();
    // The slot is free again once the first connection is gone.
    for (let i = 0; i < 50 && server.server.connectionCount() > 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const fourth = await imap.connect(server.port);
    expect(await fourth.readLine()).toMatch(/^\* OK/);
  });

  test('a command line over 64 KiB gets BAD and the session continues', async () => {
    const server = await imap.start();
    const client = await imap.connect(server.port);
    await client.readLine();
    client.send(`big SEARCH ${'A'.repeat(70 * 1024)}\r\n`);
    expect(await client.readLine()).toBe('big BAD Command line too long (the limit is 65536 bytes)');
    expect(await client.command('n', 'NOOP')).toEqual(['n OK NOOP completed']);
  });

  test('a client that half-closes after its commands still gets every answer, then the server closes', async () => {
    const server = await imap.start();
    const port = server.port;
    const output = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(`a1 LOGIN ${USER} ${PASSWORD}\r\na2 STATUS INBOX (MESSAGES)\r\n`));
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(output).toMatch(/a1 OK \[CAPABILITY [^\]]*\] Logged in\r\n\* STATUS "INBOX" \(MESSAGES 0\)\r\na2 OK STATUS completed\r\n$/);
  });

  test('stop() says BYE to every client and closes', async () => {
    const server = await imap.start();
    const client = await imap.connect(server.port);
    await client.readLine();
    await server.stop();
    expect(await client.readLine()).toBe('* BYE Server shutting down');
    expect(await closed(client)).toBe(true);
  });

  test('a large FETCH waits for a client that does not read (backpressure) and then delivers everything', async () => {
    const server = await imap.start({ maxLiteralBytes: 2 * 1024 * 1024 });
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    const body = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 40; i++) {
      body.write(String(i).padStart(8, '0'), 0);
      await server.store.appendMessage(inbox.id, Buffer.concat([Buffer.from(`Subject: ${i}\r\n\r\n`), body, Buffer.from('\r\n')]));
    }
    const client = await imap.connect(server.port);
    await client.readLine();
    await client.command('a', `LOGIN ${USER} ${PASSWORD}`);
    await client.command('b', 'SELECT INBOX');
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    client.socket.pause();
    client.send('c FETCH 1:* BODY.PEEK[]\r\n');
    await new Promise((resolve) => setTimeout(resolve, 800));
    const during = process.memoryUsage().arrayBuffers;
    // 40 MB of bodies are waiting; the server holds a few MB at most (socket buffers and one message).
    expect(during - before).toBeLessThan(16 * 1024 * 1024);
    client.socket.resume();
    let total = 0;
    for (;;) {
      const line = await client.readLine(10_000);
      if (line === undefined) throw new Error('connection ended early');
      if (line.startsWith('c ')) {
        expect(line).toBe('c OK FETCH completed');
        break;
      }
      total += line.length + 2;
    }
    expect(total).toBeGreaterThan(40 * 1024 * 1024);
  });
});
