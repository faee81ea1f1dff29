// STARTTLS (RFC 3501 §6.2.1) with a certificate configured: the handshake on the same connection,
// plaintext injected after the command is discarded, and on a non-loopback address login waits for
// TLS (LOGINDISABLED).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LineClient, PASSWORD, startTestServer, USER, type TestServer } from '../../helpers/imap-server.js';
import { SocketReader } from '../../helpers/socket-reader.js';

let dir: string;
let cert: Buffer;
let key: Buffer;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  cert = fs.readFileSync(path.join(dir, 'cert.pem'));
  key = fs.readFileSync(path.join(dir, 'key.pem'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Reads CRLF lines from a TLS socket. */
function lineReader(socket: tls.TLSSocket): (timeoutMs?: number) => Promise<string> {
  const reader = new SocketReader(socket);
  return async (timeoutMs = 5000) => {
    const line = await reader.line(timeoutMs);
    if (!line) throw new Error('timed out waiting for a line (or the connection closed)');
    return line.subarray(0, -2).toString('latin1');
  };
}

describe('STARTTLS on loopback', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ tls: { cert, key } });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  test('is offered, plaintext login still allowed on loopback, and the session continues inside TLS', async () => {
    const client = await LineClient.connect(server.port);
    try {
      expect(await client.readLine()).toBe(
        '* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE STARTTLS AUTH=PLAIN AUTH=LOGIN] hotbridge ready',
      );
      // The injected NOOP after STARTTLS, sent before the handshake, must never be executed.
      client.send('t1 STARTTLS\r\ninjected NOOP\r\n');
      expect(await client.readLine()).toBe('t1 OK Begin TLS negotiation now');
      client.socket.removeAllListeners('data');
      const secure = tls.connect({ socket: client.socket, ca: cert, servername: 'localhost' });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      const readLine = lineReader(secure);
      secure.write('t2 CAPABILITY\r\n');
      expect(await readLine()).toBe('* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN AUTH=LOGIN');
      expect(await readLine()).toBe('t2 OK CAPABILITY completed');
      secure.write(`t3 LOGIN ${USER} ${PASSWORD}\r\n`);
      expect(await readLine()).toMatch(/^t3 OK \[CAPABILITY IMAP4rev1 .*\] Logged in$/);
      secure.write('t4 STATUS INBOX (MESSAGES)\r\n');
      expect(await readLine()).toBe('* STATUS "INBOX" (MESSAGES 0)');
      expect(await readLine()).toBe('t4 OK STATUS completed');
      secure.destroy();
    } finally {
      client.close();
    }
  });

  test('a second STARTTLS inside TLS is refused', async () => {
    const client = await LineClient.connect(server.port);
    await client.readLine();
    client.send('t1 STARTTLS\r\n');
    expect(await client.readLine()).toBe('t1 OK Begin TLS negotiation now');
    client.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: client.socket, ca: cert, servername: 'localhost' });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    const readLine = lineReader(secure);
    secure.write('t2 STARTTLS\r\n');
    expect(await readLine()).toBe('t2 BAD TLS is already active');
    secure.destroy();
    client.close();
  });
});

describe('STARTTLS on a non-loopback address', () => {
  const address = Object.values(os.networkInterfaces())
    .flat()
    .find((info) => info && info.family === 'IPv4' && !info.internal)?.address;
  let server: TestServer;
  beforeAll(async () => {
    if (!address) throw new Error('this test needs a non-loopback IPv4 address on the machine');
    server = await startTestServer({ tls: { cert, key }, listen: [{ host: address, port: 0 }] });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  test('LOGINDISABLED until STARTTLS; LOGIN and AUTHENTICATE refused in plaintext', async () => {
    const client = await LineClient.connect(server.port, address);
    try {
      expect(await client.readLine()).toBe(
        '* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE STARTTLS LOGINDISABLED] hotbridge ready',
      );
      expect(await client.command('a', `LOGIN ${USER} ${PASSWORD}`)).toEqual([
        'a NO [PRIVACYREQUIRED] Log in after STARTTLS (LOGINDISABLED)',
      ]);
      expect(await client.command('b', 'AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=')).toEqual([
        'b NO [PRIVACYREQUIRED] Log in after STARTTLS (LOGINDISABLED)',
      ]);
      client.send('c STARTTLS\r\n');
      expect(await client.readLine()).toBe('c OK Begin TLS negotiation now');
      client.socket.removeAllListeners('data');
      const secure = tls.connect({ socket: client.socket, rejectUnauthorized: false });
      await new Promise((resolve) => secure.once('secureConnect', resolve));
      const readLine = lineReader(secure);
      secure.write('d CAPABILITY\r\n');
      expect(await readLine()).toBe('* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN AUTH=LOGIN');
      expect(await readLine()).toBe('d OK CAPABILITY completed');
      secure.write(`e LOGIN ${USER} ${PASSWORD}\r\n`);
      expect(await readLine()).toMatch(/^e OK \[CAPABILITY .*\] Logged in$/);
      secure.destroy();
    } finally {
      client.close();
    }
  });
});
