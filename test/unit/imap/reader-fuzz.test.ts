// Fuzzing what a client can send: the command reader, every command's argument parser, and a live
// server fed random command lines. Whatever arrives, the reader never throws and never keeps more than
// its limits; a parser either returns or throws ImapError (BAD/NO); the server answers every tagged
// line and keeps serving.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_BAD_COMMANDS_IN_A_ROW } from '../../../src/downstream/imap/connection.js';
import { findCommand } from '../../../src/downstream/imap/commands/index.js';
import { ImapError } from '../../../src/downstream/imap/errors.js';
import { ImapSession } from '../../../src/downstream/imap/session.js';
import { ArgReader } from '../../../src/downstream/imap/wire/args.js';
import { CommandReader } from '../../../src/downstream/imap/wire/reader.js';
import { fuzzRuns } from '../../helpers/fuzz.js';
import { LineClient, PASSWORD, startTestServer, USER, type TestServer } from '../../helpers/imap-server.js';

const LIMITS = { maxLineBytes: 2048, maxLiteralBytes: 4096 };

/** Bytes that look like IMAP often enough to reach deep into the reader. */
const imapish = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        '\r\n',
        '\n',
        '{5}\r\n',
        '{0+}\r\n',
        '{3+}\r\nabc',
        '{4097}\r\n',
        '{99999+}\r\n',
        '"',
        '\\',
        '(',
        ')',
        ' ',
        'a NOOP',
        '*',
        '+',
        '~{2}\r\n',
        '{',
        '}',
        '\r',
      )
      .map((s) => new Uint8Array(Buffer.from(s))),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }).map((n) => new Uint8Array(n).fill(0x41)) },
);

describe('command reader fuzz', () => {
  test('random chunks never throw and never buffer beyond the limits', () => {
    fc.assert(
      fc.property(
        fc.array(imapish, { maxLength: 40 }),
        fc.array(fc.constantFrom<'command' | 'line'>('command', 'line'), { minLength: 1, maxLength: 4 }),
        (chunks, modes) => {
          const reader = new CommandReader(LIMITS);
          let step = 0;
          for (const chunk of chunks) {
            reader.push(Buffer.from(chunk));
            for (let event = reader.next(modes[step++ % modes.length]); event; event = reader.next(modes[step++ % modes.length])) {
              if (event.kind === 'command') {
                expect(event.command.segments.length).toBe(event.command.literals.length + 1);
                for (const literal of event.command.literals) expect(literal.length).toBeLessThanOrEqual(LIMITS.maxLiteralBytes);
                const text = event.command.segments.reduce((sum, s) => sum + s.length, 0);
                expect(text).toBeLessThanOrEqual(LIMITS.maxLineBytes);
              }
            }
            // Only what is not yet consumable stays: at most one over-long line in progress (discarded
            // as it comes) or a literal being collected, never an unbounded backlog.
            expect(reader.buffered).toBeLessThanOrEqual(LIMITS.maxLineBytes + LIMITS.maxLiteralBytes + chunk.length);
          }
        },
      ),
      { numRuns: fuzzRuns(400) },
    );
  });

  test('an oversized literal is refused without buffering it', () => {
    fc.assert(
      fc.property(fc.integer({ min: LIMITS.maxLiteralBytes + 1, max: 2 ** 40 }), fc.boolean(), (size, plus) => {
        const reader = new CommandReader(LIMITS);
        reader.push(Buffer.from(`t APPEND INBOX {${size}${plus ? '+' : ''}}\r\n`));
        const event = reader.next();
        expect(event).toMatchObject({ kind: 'literal-too-large', size, synchronizing: !plus });
        reader.push(Buffer.alloc(64 * 1024));
        if (plus) expect(reader.buffered).toBe(0);
      }),
      { numRuns: fuzzRuns(100) },
    );
  });
});

/** Arguments built from IMAP-looking tokens and random bytes (no CR/LF: one line each). */
const token = fc.oneof(
  fc.constantFrom(
    '1',
    '2:4',
    '*',
    '1:*',
    '0',
    '4294967296',
    '"quoted"',
    '"a\\"b"',
    '"',
    '()',
    '(',
    ')',
    '[',
    ']',
    '<0.10>',
    'BODY[',
    'BODY.PEEK[HEADER.FIELDS (From)]',
    'FLAGS',
    '+FLAGS.SILENT',
    '\\Seen',
    '\\Bogus',
    'INBOX',
    '&-',
    '&Jjo',
    'NIL',
    'CHARSET',
    'UTF-8',
    'OR',
    'NOT',
    'ALL',
    'UID',
    'HEADER',
    'SINCE',
    '1-Feb-1994',
    '"17-Jul-1996 02:44:25 -0700"',
    'RETURN',
    'STATUS',
    'MESSAGES',
    'CHANGEDSINCE',
    'UNCHANGEDSINCE',
    '{3}',
    '{0+}',
    '%',
    '\\*',
  ),
  fc.string({ maxLength: 12 }).filter((s) => !/[\r\n]/.test(s)),
  fc.uint8Array({ maxLength: 12 }).map((bytes) =>
    Buffer.from(bytes)
      .toString('latin1')
      .replace(/[\r\n]/g, ''),
  ),
);
const argumentLine = fc.array(token, { maxLength: 12 }).map((tokens) => tokens.join(' '));

const COMMANDS = [
  'APPEND',
  'AUTHENTICATE',
  'CAPABILITY',
  'CHECK',
  'CLOSE',
  'COPY',
  'CREATE',
  'DELETE',
  'ENABLE',
  'EXAMINE',
  'EXPUNGE',
  'FETCH',
  'ID',
  'IDLE',
  'LIST',
  'LOGIN',
  'LOGOUT',
  'LSUB',
  'MOVE',
  'NAMESPACE',
  'NOOP',
  'RENAME',
  'SEARCH',
  'SELECT',
  'STARTTLS',
  'STATUS',
  'STORE',
  'SUBSCRIBE',
  'UNSELECT',
  'UNSUBSCRIBE',
];

describe('argument parser fuzz', () => {
  test('every parser returns or throws ImapError, for every command and UID form', () => {
    const session = new ImapSession('127.0.0.1', true, false);
    fc.assert(
      fc.property(
        fc.constantFrom(...COMMANDS),
        fc.boolean(),
        argumentLine,
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 2 }),
        (name, uid, line, literals) => {
          const command = findCommand(name, uid);
          if (!command) return;
          // A literal marker at the end of each segment but the last, as the reader delivers them.
          const segments = [Buffer.from(' ' + line, 'latin1')];
          for (const literal of literals) {
            segments[segments.length - 1] = Buffer.concat([segments[segments.length - 1], Buffer.from(` {${literal.length}}`)]);
            segments.push(Buffer.from(' ' + line, 'latin1'));
          }
          try {
            command.parse(new ArgReader({ segments, literals: literals.map((l) => Buffer.from(l)) }), { uid, session });
          } catch (err) {
            if (!(err instanceof ImapError)) throw err;
          }
        },
      ),
      { numRuns: fuzzRuns(3000) },
    );
  });
});

describe('live server fuzz', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ maxLiteralBytes: 4096 });
    await server.store.appendMessage(server.store.findMailbox(USER, 'INBOX')!.id, Buffer.from('Subject: x\r\n\r\nbody\r\n'));
  });
  afterAll(async () => {
    await server?.destroy();
  });

  test('random command lines all get a tagged answer and the session survives', async () => {
    const client = await LineClient.connect(server.port);
    try {
      expect(await client.readLine()).toMatch(/^\* OK/);
      expect((await client.command('L', `LOGIN ${USER} ${PASSWORD}`)).pop()).toMatch(/^L OK/);
      expect((await client.command('S', 'SELECT INBOX')).pop()).toMatch(/^S OK/);
      // Commands that wait for more lines (IDLE, AUTHENTICATE) or end the session are left out;
      // literal markers are left out too, as a random line cannot send the bytes they announce.
      const names = COMMANDS.filter((name) => !['IDLE', 'AUTHENTICATE', 'LOGOUT', 'STARTTLS', 'APPEND'].includes(name));
      const samples = fc.sample(
        fc.tuple(fc.constantFrom(...names, 'UID FETCH', 'UID STORE', 'UID SEARCH', 'UID COPY', 'BOGUS'), argumentLine),
        { numRuns: fuzzRuns(300), seed: 42 },
      );
      let n = 0;
      let badInARow = 0;
      for (const [name, args] of samples) {
        const line = `${name} ${args}`.replace(/\{\d+\+?\}$/, '{x}');
        const tag = `f${n++}`;
        const lines = await client.command(tag, line);
        expect(lines[lines.length - 1]).toMatch(new RegExp(`^${tag} (OK|NO|BAD) `));
        // A NOOP now and then: this test is about the parsers, not the limit on BADs in a row.
        badInARow = lines[lines.length - 1].startsWith(`${tag} BAD`) ? badInARow + 1 : 0;
        if (badInARow === MAX_BAD_COMMANDS_IN_A_ROW - 1) {
          expect(await client.command(`k${n}`, 'NOOP')).toEqual([`k${n} OK NOOP completed`]);
          badInARow = 0;
        }
        if (!lines.some((l) => l.startsWith('* OK [CLOSED]')) && !/^(SELECT|EXAMINE)/i.test(name)) continue;
        // Keep a mailbox selected so that the mailbox commands are exercised, not just refused.
        await client.command(`r${n}`, 'SELECT INBOX');
      }
      // Raw garbage: NUL, 8-bit, stray brackets.
      for (const garbage of ['\u0000\u0001\u00ff', ')(', '"', '\\', '}{']) {
        client.send(`${garbage}\r\n`);
        expect(await client.readLine()).toMatch(/ BAD /);
      }
      expect((await client.command('N', 'NOOP')).pop()).toBe('N OK NOOP completed');
    } finally {
      client.close();
    }
  });

  test('the server still accepts new sessions afterwards', async () => {
    const client = await LineClient.connect(server.port);
    expect(await client.readLine()).toMatch(/^\* OK/);
    expect((await client.command('a', 'CAPABILITY')).pop()).toBe('a OK CAPABILITY completed');
    client.close();
  });
});
