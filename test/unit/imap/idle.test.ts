// IDLE (RFC 2177) over real sockets against an in-process server: keep-alives while idling, the polite
// end of an IDLE without DONE (BYE), a client that floods the connection during IDLE (answered, never
// crashed, memory bounded), and 100 sessions idling at once.
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, test } from 'vitest';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { PASSWORD, USER, type LineClient } from '../../helpers/imap-server.js';

const imap = serverPerTest();

// A full garbage collection on demand, so memory figures count what is reachable, not what the GC has
// not got round to yet.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/**
 * Bytes reachable in this process (JS heap and buffers) after full GCs. V8 frees buffer memory on a
 * background thread after the GC, so it gets a moment, and a second GC, before the count.
 */
async function retainedBytes(): Promise<number> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 50));
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

async function connect(port: number): Promise<LineClient> {
  const client = await imap.connect(port);
  expect(await client.readLine()).toMatch(/^\* OK /);
  return client;
}

async function loggedIn(port: number, select = true): Promise<LineClient> {
  const client = await connect(port);
  expect((await client.command('a1', `LOGIN ${USER} ${PASSWORD}`)).at(-1)).toMatch(/^a1 OK /);
  if (select) expect((await client.command('a2', 'SELECT INBOX')).at(-1)).toMatch(/^a2 OK /);
  return client;
}

describe('IDLE timing', () => {
  test('keep-alives every interval, then BYE once the limit passes without DONE', async () => {
    const server = await imap.start({ idle: { keepaliveMs: 100, limitMs: 450 } });
    const client = await loggedIn(server.port);
    const started = Date.now();
    client.send('i1 IDLE\r\n');
    expect(await client.readLine()).toBe('+ idling');
    const lines: string[] = [];
    for (;;) {
      const line = await client.readLine(2_000);
      if (line === undefined) break;
      lines.push(line);
    }
    const elapsed = Date.now() - started;
    const keepalives = lines.filter((line) => line === '* OK Still here');
    expect(keepalives.length).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toBe('* BYE IDLE for longer than 450 ms without DONE, closing the connection');
    expect(lines.length).toBe(keepalives.length + 1);
    // A timer never fires early, so the BYE cannot come before the limit; how late it comes depends on the machine.
    expect(elapsed).toBeGreaterThanOrEqual(440);
    expect(client.closed).toBe(true);
  });

  test('DONE before the limit ends the IDLE; each IDLE gets the whole limit again', async () => {
    const server = await imap.start({ idle: { keepaliveMs: 60_000, limitMs: 400 } });
    const client = await loggedIn(server.port);
    for (const tag of ['i1', 'i2', 'i3']) {
      client.send(`${tag} IDLE\r\n`);
      expect(await client.readLine()).toBe('+ idling');
      await new Promise((resolve) => setTimeout(resolve, 250));
      client.send('DONE\r\n');
      expect(await client.readLine()).toBe(`${tag} OK IDLE terminated`);
    }
    expect((await client.command('n1', 'NOOP')).at(-1)).toBe('n1 OK NOOP completed');
  });

  test('bytes trickling in without a line end do not stretch the IDLE past its limit', async () => {
    const server = await imap.start({ idle: { keepaliveMs: 60_000, limitMs: 500 } });
    const client = await loggedIn(server.port);
    client.send('i1 IDLE\r\n');
    expect(await client.readLine()).toBe('+ idling');
    const trickle = setInterval(() => client.send('D'), 50);
    try {
      expect(await client.readLine(2_000)).toBe('* BYE IDLE for longer than 500 ms without DONE, closing the connection');
    } finally {
      clearInterval(trickle);
    }
  });
});

describe('a client that floods during IDLE', () => {
  test('commands sent instead of DONE: the IDLE ends with BAD, every later command is answered', async () => {
    const server = await imap.start();
    const client = await loggedIn(server.port);
    client.send('i1 IDLE\r\n');
    expect(await client.readLine()).toBe('+ idling');
    let flood = '';
    for (let i = 0; i < 200; i++) flood += `f${i} NOOP\r\n`;
    client.send(flood);
    const lines = await client.readUntilTagged('f199');
    // The first line was taken as the answer to IDLE and is not a command; the 199 after it are.
    expect(lines[0]).toBe('i1 BAD Expected DONE to end IDLE');
    const tagged = lines.filter((line) => /^f\d+ /.test(line));
    expect(tagged).toHaveLength(199);
    expect(tagged.every((line) => / OK NOOP completed$/.test(line))).toBe(true);
    expect(tagged[0]).toBe('f1 OK NOOP completed');
  });

  test('100 MB without a line end during IDLE: BAD, the session goes on, memory stays bounded', async () => {
    const server = await imap.start();
    const client = await loggedIn(server.port);
    client.send('i1 IDLE\r\n');
    expect(await client.readLine()).toBe('+ idling');
    // What stays reachable (after a full GC) when 75 MB of junk have gone through, against before: a
    // server that kept what it reads would hold 75 MB more; the reader keeps at most its 256 KiB window.
    const before = await retainedBytes();
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    let during = 0;
    for (let i = 1; i <= 100; i++) {
      if (!client.socket.write(chunk)) await new Promise((resolve) => client.socket.once('drain', resolve));
      if (i === 75) during = await retainedBytes();
    }
    client.send('\r\nn1 NOOP\r\n');
    const lines = await client.readUntilTagged('n1', 20_000);
    expect(lines[0]).toBe('i1 BAD Expected DONE to end IDLE (got an over-long line)');
    expect(lines.at(-1)).toBe('n1 OK NOOP completed');
    const growthMb = (during - before) / 1024 / 1024;
    console.log(`memory retained after 75 MB of junk sent during IDLE: ${growthMb.toFixed(2)} MB more than before`);
    expect(growthMb).toBeLessThan(20);
  });
});

describe('100 idle sessions', () => {
  // What they cost in CPU is a benchmark figure (npm run bench -- imap), not an assertion here.
  test('all keep idling together: each hears its keep-alives and ends its IDLE normally', async () => {
    const server = await imap.start({ maxConnectionsPerAddress: 200, idle: { keepaliveMs: 1_000, limitMs: 60_000 } });
    const port = server.port;
    const idlers = await Promise.all(Array.from({ length: 100 }, () => loggedIn(port)));
    for (const client of idlers) client.send('i1 IDLE\r\n');
    for (const client of idlers) expect(await client.readLine()).toBe('+ idling');
    expect(server.server.connectionCount()).toBe(100);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    for (const client of idlers) client.send('DONE\r\n');
    for (const client of idlers) {
      const lines = await client.readUntilTagged('i1');
      expect(lines.filter((line) => line === '* OK Still here').length).toBeGreaterThanOrEqual(2);
      expect(lines.at(-1)).toBe('i1 OK IDLE terminated');
    }
  }, 60_000);
});
