// The IMAP server against hostile and clumsy clients (issue 11), each case with the reply it must get:
// garbage and NUL bytes before and after login, 20 BADs in a row, over-long lines and literals, deep
// nesting, huge sequence sets, hundreds of connections, slow senders, login floods, hostile mailbox
// names, floods during IDLE. Nothing crashes (every test ends with the server still serving a new
// client), nothing grows without bound (connections go back to zero). Real server, real sockets; the
// random cases use fast-check (fuzzRuns scales them in `npm run fuzz`). The limits themselves have
// their own tests next door (limits-*.test.ts, reader-fuzz.test.ts, idle.test.ts); this file does not
// repeat them.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MAX_BAD_COMMANDS_IN_A_ROW, MAX_LINE_BYTES } from '../../../src/downstream/imap/connection.js';
import { decodeMailboxName } from '../../../src/downstream/imap/wire/mutf7.js';
import { fuzzRuns } from '../../helpers/fuzz.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { LineClient, PASSWORD, USER, type TestServer } from '../../helpers/imap-server.js';

const imap = serverPerTest();
const BYE = `* BYE Too many bad commands (${MAX_BAD_COMMANDS_IN_A_ROW} in a row), closing the connection`;

async function greeted(port: number): Promise<LineClient> {
  const client = await imap.connect(port);
  expect(await client.readLine()).toMatch(/^\* OK \[CAPABILITY /);
  return client;
}

/** A new client can still log in and work: the server survived whatever the test did. */
async function stillServing(server: TestServer): Promise<void> {
  const client = await greeted(server.port);
  expect((await client.command('z1', `LOGIN ${USER} ${PASSWORD}`)).at(-1)).toMatch(/^z1 OK /);
  expect((await client.command('z2', 'SELECT INBOX')).at(-1)).toMatch(/^z2 OK /);
  expect(await client.command('z3', 'NOOP')).toEqual(['z3 OK NOOP completed']);
  client.close();
}

/** Bytes a broken or hostile client might send on a line: NUL, 8-bit, controls, IMAP specials, no CR/LF or "{". */
const garbageLine = fc
  .uint8Array({ minLength: 1, maxLength: 80 })
  .map((bytes) => Buffer.from(bytes.map((b) => (b === 0x0d || b === 0x0a || b === 0x7b || b === 0x7d ? 0x00 : b))));

describe('garbage and NUL bytes', () => {
  for (const when of ['before login', 'after login'] as const) {
    test(`${when}: every line gets one BAD (or an answer), and the ${MAX_BAD_COMMANDS_IN_A_ROW}th BAD in a row gets BYE and the connection closes`, async () => {
      const server = await imap.start();
      await fc.assert(
        fc.asyncProperty(fc.array(garbageLine, { minLength: 1, maxLength: 30 }), async (lines) => {
          const client = when === 'before login' ? await greeted(server.port) : await imap.loggedIn(server.port);
          let badInARow = 0;
          for (let i = 0; i < lines.length; i++) {
            const tag = `g${i}`;
            client.send(Buffer.concat([Buffer.from(`${tag} `), lines[i], Buffer.from('\r\n')]));
            const reply = await client.readUntilTagged(tag);
            const status = /^\S+ (OK|NO|BAD) /.exec(reply.at(-1)!)?.[1];
            expect(status, reply.join('\n')).toBeDefined();
            badInARow = status === 'BAD' ? badInARow + 1 : 0;
            if (badInARow === MAX_BAD_COMMANDS_IN_A_ROW) {
              expect(await client.readLine()).toBe(BYE);
              expect(await client.closesWithin(5_000)).toBe(true);
              return;
            }
          }
          expect(await client.command('n', 'NOOP')).toEqual(['n OK NOOP completed']);
          client.close();
        }),
        { numRuns: fuzzRuns(15) },
      );
      await stillServing(server);
    }, 120_000);
  }

  test('lines of pure garbage, no tag at all: "* BAD", and BYE after twenty of them, counted in the status', async () => {
    const server = await imap.start();
    const client = await greeted(server.port);
    for (let i = 0; i < MAX_BAD_COMMANDS_IN_A_ROW; i++) {
      client.send(Buffer.from([0x00, 0xff, 0x00, 0x28, 0x0d, 0x0a]));
      expect(await client.readLine()).toBe('* BAD Missing or invalid command tag');
    }
    expect(await client.readLine()).toBe(BYE);
    expect(await client.closesWithin(5_000)).toBe(true);
    expect(server.server.counters().closedForBadCommands).toBe(1);
    await stillServing(server);
  });

  test('NUL inside a quoted string or a mailbox name: BAD, the session goes on', async () => {
    const server = await imap.start();
    const client = await imap.loggedIn(server.port);
    client.send(Buffer.from('q1 SELECT "IN\u0000BOX"\r\n', 'latin1'));
    expect((await client.readUntilTagged('q1')).at(-1)).toMatch(/^q1 BAD /);
    client.send(Buffer.from('q2 LOGIN "a\u0000b" c\r\n', 'latin1'));
    expect((await client.readUntilTagged('q2')).at(-1)).toMatch(/^q2 BAD /);
    expect(await client.command('q3', 'NOOP')).toEqual(['q3 OK NOOP completed']);
  });
});

describe('over-long lines and literals', () => {
  test(`twenty lines over ${MAX_LINE_BYTES} bytes: a BAD each, then BYE`, async () => {
    const server = await imap.start();
    const client = await imap.loggedIn(server.port);
    const long = `x1 FETCH 1 (${'FLAGS '.repeat(MAX_LINE_BYTES / 6 + 100)})\r\n`;
    for (let i = 0; i < MAX_BAD_COMMANDS_IN_A_ROW; i++) {
      client.send(long);
      expect(await client.readLine()).toBe(`x1 BAD Command line too long (the limit is ${MAX_LINE_BYTES} bytes)`);
    }
    expect(await client.readLine()).toBe(BYE);
    expect(await client.closesWithin(5_000)).toBe(true);
    await stillServing(server);
  });

  test('literals announced over the limit after login: NO [TOOBIG] without "+" (synchronizing), NO and BYE (non-synchronizing)', async () => {
    const server = await imap.start({ maxLiteralBytes: 4096 });
    const client = await imap.loggedIn(server.port);
    expect(await client.command('l1', 'APPEND INBOX {4097}')).toEqual(['l1 NO [TOOBIG] Message too large (the limit is 4096 bytes)']);
    expect(await client.command('l2', 'APPEND INBOX {99999999999999999999999999}')).toEqual([expect.stringMatching(/^l2 (BAD|NO) /)]);
    expect(await client.command('l3', 'NOOP')).toEqual(['l3 OK NOOP completed']);
    client.send('l4 APPEND INBOX {100000+}\r\n');
    client.send(Buffer.alloc(100_000, 0x61));
    expect(await client.readLine()).toBe('l4 NO [TOOBIG] Message too large (the limit is 4096 bytes)');
    expect(await client.readLine()).toBe('* BYE Literal too large, closing the connection');
    expect(await client.closesWithin(5_000)).toBe(true);
    await stillServing(server);
  });
});

describe('deep nesting and huge sequence sets', () => {
  test('ten thousand parentheses deep, in every command that takes lists: BAD, the session goes on', async () => {
    const server = await imap.start();
    const client = await imap.loggedIn(server.port);
    const deep = (inner: string) => `${'('.repeat(10_000)}${inner}${')'.repeat(10_000)}`;
    const commands = [
      `SEARCH ${deep('ALL')}`,
      `FETCH 1 ${deep('FLAGS')}`,
      `STORE 1 FLAGS ${deep('\\Seen')}`,
      `LIST ${deep('SUBSCRIBED')} "" *`,
      `STATUS INBOX ${deep('MESSAGES')}`,
      `SELECT INBOX ${deep('CONDSTORE')}`,
      `ID ${deep('"a" "b"')}`,
      `SEARCH ${'NOT '.repeat(10_000)}ALL`,
    ];
    for (const [i, command] of commands.entries()) {
      const reply = await client.command(`d${i}`, command);
      expect(reply.at(-1), command.slice(0, 40)).toMatch(new RegExp(`^d${i} BAD `));
      if (i % 10 === 9) expect((await client.command(`k${i}`, 'NOOP')).at(-1)).toMatch(/OK/);
    }
    expect((await client.command('d9', 'SELECT INBOX')).at(-1)).toMatch(/^d9 OK /);
    await stillServing(server);
  });

  test('huge sequence sets: the whole UID range, thousands of ranges, numbers past 32 bits', async () => {
    const server = await imap.start();
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    for (let i = 1; i <= 3; i++) await server.store.appendMessage(inbox.id, Buffer.from(`Subject: ${i}\r\n\r\nhello\r\n`));
    const client = await imap.loggedIn(server.port);
    expect(await client.command('h1', 'UID FETCH 1:4294967295 (UID)')).toEqual([
      '* 1 FETCH (UID 1)',
      '* 2 FETCH (UID 2)',
      '* 3 FETCH (UID 3)',
      'h1 OK UID FETCH completed',
    ]);
    expect(await client.command('h2', 'UID FETCH 4294967295:1 (UID)')).toHaveLength(4);
    // A set as long as a command line may be: thousands of overlapping ranges, answered once per message.
    const ranges = Array.from({ length: 4000 }, (_, i) => `${(i % 3) + 1}:4294967295`).join(',');
    expect(await client.command('h3', `UID FETCH ${ranges} (UID)`)).toHaveLength(4);
    expect(await client.command('h4', `UID SEARCH UID ${ranges}`)).toEqual(['* SEARCH 1 2 3', 'h4 OK UID SEARCH completed']);
    const copy = await client.command('h5', 'UID COPY 1:4294967295 Trash');
    expect(copy.at(-1)).toMatch(/^h5 OK \[COPYUID \d+ 1:3 1:3\] COPY completed$/);
    // Message numbers past EXISTS, zero and numbers past 32 bits are client errors (RFC 3501 §9).
    expect((await client.command('h6', 'FETCH 1:4294967295 (UID)')).at(-1)).toMatch(/^h6 BAD /);
    expect((await client.command('h7', 'UID FETCH 4294967296 (UID)')).at(-1)).toMatch(/^h7 BAD /);
    expect((await client.command('h8', 'FETCH 0 (UID)')).at(-1)).toMatch(/^h8 BAD /);
    expect((await client.command('h9', `UID STORE ${ranges} +FLAGS.SILENT (\\Seen)`)).at(-1)).toBe('h9 OK UID STORE completed');
    await stillServing(server);
  });
});

describe('many clients, slow clients', () => {
  test('three hundred connections at once, each sending garbage and vanishing: the cap answers BYE, nothing stays behind', async () => {
    const server = await imap.start({ maxConnectionsPerAddress: 1000, maxConnections: 250 });
    const clients = await Promise.all(Array.from({ length: 300 }, () => imap.connect(server.port)));
    const greetings = await Promise.all(clients.map((client) => client.readLine()));
    expect(greetings.filter((line) => line?.startsWith('* OK [CAPABILITY ')).length).toBe(250);
    expect(greetings.filter((line) => line === '* BYE Too many connections').length).toBe(50);
    for (const client of clients) {
      client.send(Buffer.from([0x00, 0x01, 0x02, 0x0d, 0x0a, 0x61, 0x20]));
      client.socket.destroy();
    }
    for (let i = 0; i < 250 && server.server.connectionCount() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.server.connectionCount()).toBe(0);
    await stillServing(server);
  });

  test('a slow sender (a byte every few milliseconds) gets its answer, and others are served meanwhile', async () => {
    const server = await imap.start();
    const slow = await imap.loggedIn(server.port);
    const quick = await imap.loggedIn(server.port);
    const message = `Subject: slow\r\n\r\n${'a line of a slowly sent message\r\n'.repeat(20)}`;
    const bytes = Buffer.from(`s1 APPEND INBOX {${message.length}+}\r\n${message}\r\n`);
    let sent = 0;
    const trickle = (async () => {
      for (; sent < bytes.length; sent += 16) {
        slow.send(bytes.subarray(sent, sent + 16));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    // Answered while the slow client is still mid-command.
    expect(await quick.command('q1', 'NOOP')).toEqual(['q1 OK NOOP completed']);
    expect(sent).toBeLessThan(bytes.length);
    await trickle;
    expect((await slow.readUntilTagged('s1')).at(-1)).toMatch(/^s1 OK \[APPENDUID \d+ 1\] APPEND completed$/);
    await stillServing(server);
  });

  test('a flood of wrong logins from forty connections: each NO [AUTHENTICATIONFAILED], and the right password still logs in', async () => {
    const server = await imap.start({ maxConnectionsPerAddress: 100 });
    const attackers = await Promise.all(Array.from({ length: 40 }, () => greeted(server.port)));
    const refusals = attackers.map((client, i) => client.command(`w${i}`, `LOGIN ${USER} wrong-${i}`, 60_000));
    const user = await greeted(server.port);
    expect((await user.command('u1', `LOGIN ${USER} ${PASSWORD}`, 30_000)).at(-1)).toMatch(/^u1 OK \[CAPABILITY /);
    for (const [i, reply] of (await Promise.all(refusals)).entries()) {
      expect(reply).toEqual([`w${i} NO [AUTHENTICATIONFAILED] Wrong address or local password (set it with \`hotbridge password\`)`]);
    }
    // Wrong passwords are NO, not BAD: they never count towards the BYE for bad commands.
    const one = attackers[0];
    for (let i = 0; i < MAX_BAD_COMMANDS_IN_A_ROW + 2; i++)
      expect((await one.command(`r${i}`, `LOGIN ${USER} nope`, 60_000)).at(-1)).toMatch(/^r\d+ NO /);
    await stillServing(server);
  }, 120_000);
});

describe('hostile mailbox names', () => {
  /** Characters that break careless name handling: the delimiter, dots, wildcards, quoting, shifts, 8-bit. */
  const nameChar = fc.constantFrom(
    'a',
    'b',
    '/',
    '.',
    '..',
    '%',
    '*',
    '&',
    '-',
    '&-',
    '"',
    '\\',
    ' ',
    '~',
    'é',
    '\u0001',
    '\u007f',
    '&Jjo',
    '&2D0-',
    'INBOX',
  );
  const hostileName = fc.array(nameChar, { minLength: 0, maxLength: 8 }).map((parts) => parts.join(''));

  test('CREATE, RENAME, SELECT and DELETE of random hostile names: OK, NO or BAD, never a crash; what exists is well-formed and reachable', async () => {
    const server = await imap.start();
    const client = await imap.loggedIn(server.port);
    let n = 0;
    const literal = (name: string) => {
      const bytes = Buffer.from(name, 'utf8');
      return Buffer.concat([Buffer.from(`{${bytes.length}+}\r\n`), bytes]);
    };
    const run = async (verb: string, names: string[], rest = '') => {
      const tag = `m${n++}`;
      const parts: Buffer[] = [Buffer.from(`${tag} ${verb}`)];
      for (const name of names) parts.push(Buffer.from(' '), literal(name));
      parts.push(Buffer.from(`${rest}\r\n`));
      client.send(Buffer.concat(parts));
      const reply = await client.readUntilTagged(tag);
      expect(reply.at(-1)).toMatch(new RegExp(`^${tag} (OK|NO|BAD) `));
      // Keep the count of BADs in a row away from the limit: this test is about names.
      if (reply.at(-1)!.startsWith(`${tag} BAD`)) expect((await client.command(`k${n}`, 'NOOP')).at(-1)).toMatch(/OK/);
      return reply;
    };
    await fc.assert(
      fc.asyncProperty(hostileName, hostileName, async (a, b) => {
        await run('CREATE', [a]);
        await run('RENAME', [a, b]);
        await run('SELECT', [b]);
        await run('STATUS', [a], ' (MESSAGES)');
        await run('LIST', ['', b]);
        await run('DELETE', [b]);
      }),
      { numRuns: fuzzRuns(60) },
    );
    const list = await client.command('l', 'LIST "" *');
    expect(list.at(-1)).toBe('l OK LIST completed');
    for (const line of list.slice(0, -1)) {
      const wire = /^\* LIST \([^)]*\) "\/" "((?:[^"\\]|\\.)*)"$/.exec(line)?.[1];
      expect(wire, line).toBeDefined();
      const name = decodeMailboxName(wire!.replace(/\\(.)/g, '$1'));
      expect(name, line).toBeDefined();
      for (const level of name!.split('/')) {
        expect(level, line).not.toBe('');
        expect(['.', '..'], line).not.toContain(level);
      }
      // eslint-disable-next-line no-control-regex
      expect(name!, line).not.toMatch(/[*%\u0000-\u001f\u007f]/);
      if (!/\\Noselect/.test(line)) expect((await client.command(`e${n++}`, `EXAMINE "${wire}"`)).at(-1)).toMatch(/OK \[READ-ONLY\]/);
    }
    await stillServing(server);
  }, 120_000);
});

describe('floods during IDLE', () => {
  test('five hundred junk lines instead of DONE: the IDLE ends with BAD, the rest are commands, and twenty BADs in a row end the session', async () => {
    const server = await imap.start();
    const client = await imap.loggedIn(server.port);
    client.send('i1 IDLE\r\n');
    expect(await client.readLine()).toBe('+ idling');
    client.send(Array.from({ length: 500 }, (_, i) => `junk ${i}\u0000\r\n`).join(''));
    expect(await client.readLine()).toBe('i1 BAD Expected DONE to end IDLE');
    for (let i = 1; i < MAX_BAD_COMMANDS_IN_A_ROW; i++) expect(await client.readLine()).toMatch(/^junk BAD /);
    expect(await client.readLine()).toBe(BYE);
    expect(await client.closesWithin(5_000)).toBe(true);
    await stillServing(server);
  });

  test("a flood of other sessions' changes during IDLE reaches an idler that reads, in order, and its IDLE ends normally", async () => {
    const server = await imap.start();
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    for (let i = 0; i < 300; i++) await server.store.appendMessage(inbox.id, Buffer.from(`Subject: ${i}\r\n\r\nhello\r\n`));
    const idler = await imap.loggedIn(server.port);
    const writer = await imap.loggedIn(server.port);
    idler.send('i1 IDLE\r\n');
    expect(await idler.readLine()).toBe('+ idling');
    for (let round = 0; round < 10; round++) {
      expect((await writer.command(`w${round}`, `STORE 1:* ${round % 2 ? '-' : '+'}FLAGS.SILENT (\\Flagged)`)).at(-1)).toMatch(/OK/);
    }
    expect((await writer.command('x1', 'STORE 1:150 +FLAGS.SILENT (\\Deleted)')).at(-1)).toMatch(/OK/);
    expect((await writer.command('x2', 'EXPUNGE')).at(-1)).toMatch(/OK/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    idler.send('DONE\r\n');
    const lines = await idler.readUntilTagged('i1', 30_000);
    expect(lines.at(-1)).toBe('i1 OK IDLE terminated');
    expect(lines.filter((line) => line === '* 1 EXPUNGE')).toHaveLength(150);
    // Every update is a well-formed untagged response.
    for (const line of lines.slice(0, -1))
      expect(line).toMatch(/^\* (\d+ FETCH \(UID \d+ FLAGS \([^)]*\)\)|\d+ EXPUNGE|\d+ RECENT|OK .*)$/);
    expect(await idler.command('n1', 'SELECT INBOX')).toContain('* 150 EXISTS');
  });
});
