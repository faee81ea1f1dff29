// What an anonymous client can make the server hold: literals before login are refused above 8 KiB
// before a byte of them is buffered (no "+" continuation; a LITERAL+ one ends the connection), the
// limit rises to the configured message size once logged in, and the autologout before login is a
// deadline from the connect that trickling bytes does not push back. Real server, real sockets.
import { describe, expect, test } from 'vitest';
import { PRE_LOGIN_LITERAL_BYTES } from '../../../src/downstream/imap/connection.js';
import { CommandReader } from '../../../src/downstream/imap/wire/reader.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { PASSWORD, USER, type LineClient } from '../../helpers/imap-server.js';

const imap = serverPerTest();

async function connect(port: number): Promise<LineClient> {
  const client = await imap.connect(port);
  expect(await client.readLine()).toMatch(/^\* OK /);
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const tooLarge = (tag: string) => `${tag} BAD [TOOBIG] Literal too large before login (the limit is ${PRE_LOGIN_LITERAL_BYTES} bytes)`;

describe('literals before login', () => {
  test('the limit is 8 KiB', () => {
    expect(PRE_LOGIN_LITERAL_BYTES).toBe(8192);
  });

  test('LOGIN, AUTHENTICATE and ID announcing a literal over the limit get BAD instead of "+", and the session goes on', async () => {
    const server = await imap.start({ maxLiteralBytes: 35 * 1024 * 1024 });
    const client = await connect(server.port);
    client.send(`a1 LOGIN {30000000}\r\n`);
    expect(await client.readLine()).toBe(tooLarge('a1'));
    client.send(`a2 AUTHENTICATE PLAIN {${PRE_LOGIN_LITERAL_BYTES + 1}}\r\n`);
    expect(await client.readLine()).toBe(tooLarge('a2'));
    client.send(`a3 ID ("name" {9000}\r\n`);
    expect(await client.readLine()).toBe(tooLarge('a3'));
    expect(await client.pending(100)).toBe('');
    expect(await client.command('n', 'NOOP')).toEqual(['n OK NOOP completed']);
  });

  test('a literal within the limit is accepted before login (a password sent as a literal)', async () => {
    const server = await imap.start();
    const client = await connect(server.port);
    client.send(`a1 LOGIN ${USER} {${PASSWORD.length}}\r\n`);
    expect(await client.readLine()).toBe('+ Ready for literal data');
    client.send(`${PASSWORD}\r\n`);
    expect((await client.readUntilTagged('a1')).at(-1)).toMatch(/^a1 OK \[CAPABILITY [^\]]*\] Logged in$/);
  });

  test('a literal of exactly the limit is still announced with "+" and read', async () => {
    const server = await imap.start();
    const client = await connect(server.port);
    client.send(`a1 LOGIN {${PRE_LOGIN_LITERAL_BYTES}}\r\n`);
    expect(await client.readLine()).toBe('+ Ready for literal data');
    client.send(Buffer.alloc(PRE_LOGIN_LITERAL_BYTES, 0x61));
    client.send(` ${PASSWORD}\r\n`);
    // Read to the end and judged as credentials: no such user.
    expect((await client.readUntilTagged('a1')).at(-1)).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\] /);
  });

  test('a non-synchronizing literal over the limit gets BAD and BYE, and the connection closes', async () => {
    const server = await imap.start();
    const client = await connect(server.port);
    client.send(`a1 LOGIN {20000+}\r\n`);
    client.send(Buffer.alloc(20_000, 0x41));
    expect(await client.readLine()).toBe(tooLarge('a1'));
    expect(await client.readLine()).toBe('* BYE Literal too large, closing the connection');
    expect(await client.closesWithin(3000)).toBe(true);
  });

  test('after login the configured message size applies again, also to a command pipelined right behind LOGIN', async () => {
    const server = await imap.start({ maxLiteralBytes: 1024 * 1024 });
    const client = await connect(server.port);
    const message = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(100_000, 0x62), Buffer.from('\r\n')]);
    client.send(
      Buffer.concat([
        Buffer.from(`a1 LOGIN ${USER} ${PASSWORD}\r\na2 APPEND INBOX {${message.length}+}\r\n`),
        message,
        Buffer.from('\r\n'),
      ]),
    );
    expect((await client.readUntilTagged('a1')).at(-1)).toMatch(/^a1 OK /);
    expect((await client.readUntilTagged('a2')).at(-1)).toMatch(/^a2 OK \[APPENDUID \d+ 1\] APPEND completed$/);
    client.send(`a3 APPEND INBOX {${message.length}}\r\n`);
    expect(await client.readLine()).toBe('+ Ready for literal data');
    client.send(Buffer.concat([message, Buffer.from('\r\n')]));
    expect((await client.readUntilTagged('a3')).at(-1)).toMatch(/^a3 OK \[APPENDUID \d+ 2\] APPEND completed$/);
  });

  test('the reader refuses from the announcement alone under the lowered limit, and takes the raised one', () => {
    const reader = new CommandReader({ maxLineBytes: 64 * 1024, maxLiteralBytes: 10_000_000 });
    reader.setMaxLiteralBytes(100);
    reader.push(Buffer.from('a LOGIN {101}\r\n'));
    expect(reader.next()).toEqual({ kind: 'literal-too-large', tag: 'a', command: 'LOGIN', size: 101, synchronizing: true });
    reader.setMaxLiteralBytes(1000);
    reader.push(Buffer.from('b LOGIN {101}\r\n'));
    expect(reader.next()).toMatchObject({ kind: 'continue' });
  });
});

describe('autologout before login', () => {
  test('is a deadline from the connect: trickling one byte at a time does not extend it', async () => {
    const server = await imap.start({ idleTimeoutMs: { unauthenticated: 400, authenticated: 60_000 } });
    const typing = await connect(server.port);
    const inLiteral = await connect(server.port);
    inLiteral.send('b1 LOGIN {1000}\r\n');
    expect(await inLiteral.readLine()).toBe('+ Ready for literal data');
    let typingByes = '';
    // A byte every 50 ms: if each byte restarted the 400 ms timer neither connection would ever be closed.
    for (let i = 0; i < 100 && !(typing.closed && inLiteral.closed); i++) {
      if (!typing.closed) typing.send('x');
      if (!inLiteral.closed) inLiteral.send('y');
      await sleep(50);
      typingByes += await typing.pending(0);
    }
    expect(typing.closed).toBe(true);
    expect(inLiteral.closed).toBe(true);
    expect(typingByes).toContain('* BYE Autologout; idle for too long');
  });

  test('pipelined commands do not outlast it either', async () => {
    const server = await imap.start({ idleTimeoutMs: { unauthenticated: 300, authenticated: 60_000 } });
    const client = await connect(server.port);
    for (let i = 0; i < 40 && !client.closed; i++) {
      client.send(`n${i} NOOP\r\n`);
      await sleep(25);
    }
    expect(client.closed).toBe(true);
  });

  test('after login the idle timer is restarted by traffic as before', async () => {
    const server = await imap.start({ idleTimeoutMs: { unauthenticated: 2_000, authenticated: 400 } });
    const client = await connect(server.port);
    await client.command('a', `LOGIN ${USER} ${PASSWORD}`);
    for (let i = 0; i < 8; i++) {
      await sleep(150);
      expect(await client.command(`n${i}`, 'NOOP')).toEqual([`n${i} OK NOOP completed`]);
    }
    expect(await client.readLine(2000)).toBe('* BYE Autologout; idle for too long');
  });
});
