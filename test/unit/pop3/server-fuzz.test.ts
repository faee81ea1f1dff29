// Fuzzing what a POP3 client can send: the line reader and a live server fed random command lines.
// Whatever arrives, the reader never throws, hands out exactly the lines that were sent (bare LF or
// CRLF), never keeps more than one line's worth, and the server answers every line with one status
// line (plus a multi-line body for the commands that have one) and keeps serving.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LineReader } from '../../../src/downstream/pop3/reader.js';
import { unstuff } from '../../../src/downstream/pop3/wire.js';
import { fuzzRuns } from '../../helpers/fuzz.js';
import { LineClient } from '../../helpers/imap-server.js';
import { awkwardMessage } from '../../helpers/messages.js';
import { PASSWORD, startTestPop3Server, USER, type TestPop3Server } from '../../helpers/pop3-server.js';

const MAX_LINE = 256;

const pop3ish = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom('\r\n', '\n', '\r', 'USER x', 'PASS y', 'RETR 1', 'TOP 1 0', '.', '..', ' ', 'AUTH PLAIN', '*', '=')
      .map((s) => new Uint8Array(Buffer.from(s))),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map((n) => new Uint8Array(n).fill(0x41)) },
);

describe('line reader fuzz', () => {
  test('random chunks: the lines that come out are the lines that went in, within the limit', () => {
    fc.assert(
      fc.property(fc.array(pop3ish, { maxLength: 40 }), (chunks) => {
        const reader = new LineReader(MAX_LINE);
        const got: Array<string | 'too-long'> = [];
        for (const chunk of chunks) {
          reader.push(Buffer.from(chunk));
          for (let event = reader.next(); event; event = reader.next())
            got.push(event.kind === 'line' ? event.line.toString('latin1') : 'too-long');
          // Only an incomplete line stays, and never more of it than the limit plus the last chunk.
          expect(reader.buffered).toBeLessThanOrEqual(MAX_LINE + 1 + chunk.length);
        }
        // The model: split on LF, drop one CR before it, over-long lines reported once.
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c))).toString('latin1');
        const complete = all.slice(0, all.lastIndexOf('\n') + 1);
        const expected =
          complete === ''
            ? []
            : complete
                .slice(0, -1)
                .split('\n')
                .map((line) => line.replace(/\r$/, ''))
                .map((line) => (line.length > MAX_LINE ? 'too-long' : line));
        // An incomplete line at the end is reported as soon as it cannot fit any more (its CR aside).
        const tail = all.slice(all.lastIndexOf('\n') + 1);
        expect(got).toEqual(tail.length > MAX_LINE + 1 ? [...expected, 'too-long'] : expected);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});

const MULTI_LINE = /^(LIST|UIDL|CAPA|RETR|TOP|AUTH)$/i;
const token = fc.oneof(
  fc.constantFrom(
    '1',
    '2',
    '0',
    '-1',
    '99999999999',
    'x',
    '',
    ' ',
    '*',
    '=',
    'PLAIN',
    'LOGIN',
    'AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=',
    '1 2 3',
    '\u00ff',
    '\u0000',
  ),
  fc.string({ maxLength: 10 }).filter((s) => !/[\r\n]/.test(s)),
);
const COMMANDS = [
  'STAT',
  'LIST',
  'UIDL',
  'RETR',
  'TOP',
  'DELE',
  'RSET',
  'NOOP',
  'CAPA',
  'USER',
  'APOP',
  'STLS',
  'BOGUS',
  'list',
  'Retr',
  '',
];

describe('live server fuzz', () => {
  let server: TestPop3Server;
  beforeAll(async () => {
    server = await startTestPop3Server();
    await server.append(awkwardMessage('leading dots'));
    await server.append(Buffer.from('Subject: x\r\n\r\nbody\r\n'));
  });
  afterAll(async () => {
    await server?.destroy();
  });

  /** Reads one response: its status line and, for +OK on a multi-line command, the lines up to ".". */
  async function response(client: LineClient, command: string, argCount: number): Promise<string> {
    const status = await client.readLine();
    if (status === undefined) throw new Error(`no answer to ${command}`);
    expect(status).toMatch(/^(\+OK|-ERR)( |$)/);
    const multi = status.startsWith('+OK') && MULTI_LINE.test(command) && !(/^(LIST|UIDL)$/i.test(command) && argCount > 0);
    if (multi) {
      for (let line = await client.readLine(); line !== '.'; line = await client.readLine()) {
        if (line === undefined) throw new Error(`${command}: the response did not end`);
      }
    }
    return status;
  }

  test('random command lines in both states all get an answer, and the session survives', async () => {
    const client = await LineClient.connect(server.port);
    try {
      expect(await client.readLine()).toMatch(/^\+OK/);
      const samples = fc.sample(fc.tuple(fc.constantFrom(...COMMANDS), fc.array(token, { maxLength: 3 })), {
        numRuns: fuzzRuns(200),
        seed: 7,
      });
      let n = 0;
      for (const [name, args] of samples) {
        // Half before login, half after; AUTH and QUIT are left out (a continuation, an end).
        if (n++ === Math.floor(samples.length / 2)) {
          client.send(`USER ${USER}\r\n`);
          expect(await client.readLine()).toBe('+OK');
          client.send(`PASS ${PASSWORD}\r\n`);
          expect(await client.readLine()).toMatch(/^\+OK Logged in/);
        }
        const line = [name, ...args].join(' ');
        client.send(`${line}\r\n`);
        // A USER before login is followed by a bad PASS: the next sample must not be read as a password.
        const words = line.split(' ').filter((w) => w !== '');
        await response(client, name, Math.max(0, words.length - 1));
      }
      client.send(`${'A'.repeat(10_000)}\r\n`);
      expect(await client.readLine()).toMatch(/^-ERR Line too long/);
      client.send('NOOP\r\n');
      expect(await client.readLine()).toMatch(/^(\+OK|-ERR Log in first)/);
      // Pipelined: many commands in one write, answered in order (RFC 2449 §6.6).
      client.send('RETR 1\r\nSTAT\r\nUIDL 1\r\nNOOP\r\n');
      const retr = await client.readLine();
      expect(retr).toMatch(/^\+OK \d+ octets$/);
      const body: string[] = [];
      for (let line = await client.readLine(); line !== '.'; line = await client.readLine()) body.push(line!);
      expect(unstuff(Buffer.from(`${body.join('\r\n')}\r\n.\r\n`, 'latin1')).equals(awkwardMessage('leading dots'))).toBe(true);
      expect(await client.readLine()).toMatch(/^\+OK 2 \d+$/);
      expect(await client.readLine()).toMatch(/^\+OK 1 [0-9A-F]{16}$/);
      expect(await client.readLine()).toBe('+OK');
    } finally {
      client.close();
    }
  });

  test('nothing was deleted by all that (no QUIT), and new sessions are served', async () => {
    const client = await LineClient.connect(server.port);
    expect(await client.readLine()).toMatch(/^\+OK/);
    client.send(`USER ${USER}\r\nPASS ${PASSWORD}\r\nSTAT\r\nQUIT\r\n`);
    expect(await client.readLine()).toBe('+OK');
    expect(await client.readLine()).toBe('+OK Logged in, 2 messages');
    expect(await client.readLine()).toMatch(/^\+OK 2 \d+$/);
    expect(await client.readLine()).toBe('+OK Logging out');
    expect(await client.closesWithin(3000)).toBe(true);
  });
});
