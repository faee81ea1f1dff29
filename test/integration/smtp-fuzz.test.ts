// Fuzzing the submission server's command reader over a real socket: garbage, NUL bytes, over-long
// lines, pipelined junk and half-valid commands, before and after AUTH. Whatever arrives, every byte the
// server sends is a well-formed SMTP reply line, a connection it closes ends with 221 or 421, nothing
// throws in the daemon, and a logged-in bystander keeps being served. `npm run fuzz` runs it longer.
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/runtime/logger.js';
import { startSubmissionServer, type SubmissionServer } from '../../src/downstream/smtp/server.js';
import { fuzzRuns } from '../helpers/fuzz.js';
import { SocketReader } from '../helpers/socket-reader.js';
import { collectUncaught } from '../helpers/uncaught.js';
import { LOCAL_PASSWORD, openLocalSide, testAccount, type LocalSide } from './fixtures/smtp-setup.js';
import { plainAuth, SmtpWire } from './fixtures/smtp-wire.js';

const ALICE = 'alice@example.test';
const uncaught = collectUncaught();

let local: LocalSide;
let server: SubmissionServer;
let port: number;
let bystander: SmtpWire;

beforeAll(async () => {
  local = await openLocalSide([ALICE], 50);
  server = await startSubmissionServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store: local.store,
    auth: local.auth,
    logger: silentLogger(),
    maxMessageBytes: 16 * 1024,
    accounts: () => [testAccount(ALICE)],
  });
  port = server.addresses()[0].port;
  bystander = await SmtpWire.connect('127.0.0.1', port);
  await bystander.reply();
  await bystander.command('EHLO bystander.example');
  expect((await bystander.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
});

afterAll(async () => {
  bystander?.close();
  await server?.stop();
  await local?.close();
  expect(uncaught).toEqual([]);
});

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));
const ending = fc.constantFrom('\r\n', '\n', '\r', '', '\r\n\r\n');

/** One piece of what a client sends: a command-ish line, raw bytes, or a long run. */
const piece = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'EHLO x',
          'HELO',
          'EHLO',
          'MAIL FROM:<alice@example.test>',
          'MAIL FROM:<>',
          'MAIL FROM:alice',
          'MAIL FROM:<alice@example.test> SIZE=99999999999999999999',
          'MAIL FROM:<alice@example.test> BODY=BINARYMIME',
          'MAIL FROM:<a\u00e9@x> SMTPUTF8',
          'RCPT TO:<bob@example.org>',
          'RCPT TO:<b\u0000b@x>',
          'RCPT TO:<>',
          'RCPT TO:<bob@example.org> NOTIFY=SUCCESS',
          'DATA',
          '.',
          '..',
          'RSET',
          'NOOP',
          'VRFY',
          'HELP',
          'AUTH PLAIN',
          'AUTH LOGIN',
          'AUTH CRAM-MD5',
          'AUTH PLAIN AGFsaWNlAHdyb25n',
          '*',
          '=',
          'STARTTLS',
          'BDAT 10 LAST',
          'XCLIENT ADDR=1.2.3.4',
          'GET / HTTP/1.1',
          'QUIT',
          '',
        ),
        ending,
      )
      .map(([line, end]) => bytes(line + end)),
  },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 120 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(bytes('\u0000\u0000\u0000\r\n'), bytes('\r\n.\r\n'), bytes('\u00ff\u00fe\r\n'), bytes('A\rB\nC\r\n')),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 9000 }).map((n) => new Uint8Array(n).fill(0x41)) },
);

/** A session: logged in first or not, then the pieces, written in a few pipelined chunks. */
async function runSession(loggedIn: boolean, pieces: Uint8Array[]): Promise<{ lines: string[]; closed: boolean }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const reader = new SocketReader(socket);
  const lines: string[] = [];
  const read = async (timeoutMs: number): Promise<string | undefined> => {
    const line = await reader.line(timeoutMs);
    if (line === undefined) return undefined;
    const text = line.subarray(0, -2).toString('latin1');
    lines.push(text);
    return text;
  };
  try {
    expect(await read(10_000)).toMatch(/^220 /);
    if (loggedIn) {
      socket.write(`EHLO fuzz.example\r\nAUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}\r\n`);
      for (let line = await read(10_000); line !== undefined && !/^235 /.test(line); line = await read(10_000)) {
        if (/^\d{3} /.test(line) && !/^250 /.test(line)) throw new Error(`login failed: ${line}`);
      }
    }
    for (let i = 0; i < pieces.length; i += 4) {
      if (reader.closed) break;
      socket.write(Buffer.concat(pieces.slice(i, i + 4)));
    }
    // Read until the server closes, or has nothing more to say for a while.
    while ((await read(400)) !== undefined);
    return { lines, closed: reader.closed };
  } finally {
    socket.destroy();
  }
}

const RUNS = fuzzRuns(25);

describe('SMTP command reader fuzz (real socket)', () => {
  // A session takes up to a second or so (it ends when the server goes quiet): the timeout follows the runs.
  it(
    'answers every input with well-formed replies or a clean close, and keeps serving others',
    { timeout: 60_000 + RUNS * 3_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 24 }), async (loggedIn, pieces) => {
          const { lines, closed } = await runSession(loggedIn, pieces);
          for (const line of lines) expect(line).toMatch(/^\d{3}([ -]|$)/);
          if (closed) expect(lines.at(-1)).toMatch(/^(221|421)[ -]/);
          expect((await bystander.command('NOOP')).code).toBe(250);
        }),
        { numRuns: RUNS },
      );
      // Every fuzzing connection is gone; only the bystander is left.
      await expect.poll(() => server.connectionCount(), { timeout: 15_000 }).toBe(1);
    },
  );
});
