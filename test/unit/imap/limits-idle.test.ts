// IDLE output is bounded: a client that idles and never reads does not make the server queue other
// sessions' updates for it without end. Once more than the limit waits in its socket buffer and does
// not drain within the grace period, it gets BYE and is cut off; an idler that reads is left alone.
// Real server, real sockets; the limit is lowered so the test stays fast.
import { describe, expect, test } from 'vitest';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { USER } from '../../helpers/imap-server.js';

const imap = serverPerTest();

describe('IDLE output limit', () => {
  test('an idler that does not read is ended; one that reads keeps idling', async () => {
    const server = await imap.start({ idleOutputLimit: { bytes: 256 * 1024, graceMs: 300 } });
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    const messages = 1000;
    for (let i = 0; i < messages; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, k) => server.store.appendMessage(inbox.id, Buffer.from(`Subject: ${i + k}\r\n\r\nhello\r\n`))),
      );
    }
    const deaf = await imap.loggedIn(server.port);
    const listening = await imap.loggedIn(server.port);
    const writer = await imap.loggedIn(server.port);
    for (const client of [deaf, listening]) {
      client.send('i IDLE\r\n');
      expect(await client.readLine()).toBe('+ idling');
    }
    deaf.socket.pause();
    let listened = 0;
    listening.socket.on('data', (chunk: Buffer) => (listened += chunk.length));

    // Every STORE makes a FETCH line per message, long with keywords, for each idler: ~600 KB a round.
    const keywords = Array.from({ length: 20 }, (_, i) => `a-rather-long-keyword-name-${i}`).join(' ');
    let rounds = 0;
    const started = Date.now();
    while (server.server.connectionCount() === 3 && Date.now() - started < 20_000) {
      const sign = rounds % 2 ? '-' : '+';
      expect((await writer.command(`s${rounds}`, `STORE 1:* ${sign}FLAGS.SILENT (${keywords})`, 20_000)).at(-1)).toBe(
        `s${rounds} OK STORE completed`,
      );
      rounds++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(
      `deaf idler cut off after ${rounds} STORE rounds of ${messages} messages; the reading idler received ${(listened / 1e6).toFixed(1)} MB`,
    );
    expect(server.server.connectionCount()).toBe(2);
    // It got well past the limit before being cut: the grace period and kernel buffers, not a hair trigger.
    expect(listened).toBeGreaterThan(256 * 1024);

    // The reading idler is still idling and ends its IDLE normally; the writer's session is unaffected.
    listening.send('DONE\r\n');
    expect((await listening.readUntilTagged('i', 10_000)).at(-1)).toBe('i OK IDLE terminated');
    expect(await writer.command('n', 'NOOP')).toEqual(['n OK NOOP completed']);
  }, 30_000);
});
