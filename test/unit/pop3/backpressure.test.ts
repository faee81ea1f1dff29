// RETR streams with back-pressure: a client that pipelines many RETRs of a large message and does not
// read makes the server wait, not read message after message into its socket buffer. Then, read at
// last, every response arrives whole and byte for byte.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unstuff } from '../../../src/downstream/pop3/wire.js';
import { bigMessage } from '../../helpers/messages.js';
import { PASSWORD, startTestPop3Server, USER, type TestPop3Server } from '../../helpers/pop3-server.js';

const RETRS = 40;

describe('POP3 back-pressure', () => {
  let server: TestPop3Server;
  const message = bigMessage(3);
  beforeAll(async () => {
    server = await startTestPop3Server();
    await server.append(message);
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it(`${RETRS} pipelined RETRs of a 3 MB message: the server holds back while the client does not read`, async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    // Logged in first (the password check takes its time), then the RETRs go out and nothing is read.
    let greeting = '';
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        greeting += chunk.toString('latin1');
        if (!greeting.includes('+OK Logged in')) return;
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
      socket.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\n`);
    });
    socket.pause();
    const before = process.memoryUsage().arrayBuffers;
    socket.write(`${'RETR 1\r\n'.repeat(RETRS)}QUIT\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // Without back-pressure all 40 copies (120 MB) would wait in the server's socket buffer by now.
    const held = process.memoryUsage().arrayBuffers - before;
    console.log('DEBUG', held, process.memoryUsage());
    expect(held).toBeLessThan(40 * 1024 * 1024);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    const all = Buffer.concat(chunks);
    const responses = all.toString('latin1').split(`+OK ${message.length} octets\r\n`);
    expect(responses).toHaveLength(RETRS + 1);
    for (const body of responses.slice(1)) expect(unstuff(Buffer.from(body, 'latin1')).equals(message)).toBe(true);
    expect(all.toString('latin1').endsWith('+OK Logging out\r\n')).toBe(true);
  });
});
