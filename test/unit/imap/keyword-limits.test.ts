// Keyword limits (src/store/keyword-limits.ts), so that one STORE line of thousands of keywords cannot
// be written to every message (hundreds of MB): a keyword is at most 64 bytes (BAD), a message carries
// at most 64 keywords and a mailbox at most 256 distinct ones (NO [LIMIT], RFC 5530 §3); at the mailbox
// limit PERMANENTFLAGS drops `\*` (RFC 3501 §2.3.2). System flags are never limited. APPEND obeys the same.
import { describe, expect, test } from 'vitest';
import {
  KeywordLimitError,
  MAX_KEYWORD_LENGTH,
  MAX_KEYWORDS_PER_MAILBOX,
  MAX_KEYWORDS_PER_MESSAGE,
} from '../../../src/store/keyword-limits.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { PASSWORD, USER, type LineClient, type TestServer } from '../../helpers/imap-server.js';

const imap = serverPerTest();

async function withMessages(count: number): Promise<TestServer> {
  const server = await imap.start();
  const inbox = server.store.findMailbox(USER, 'INBOX')!;
  for (let i = 0; i < count; i++) await server.store.appendMessage(inbox.id, Buffer.from(`Subject: ${i}\r\n\r\nhello ${i}\r\n`));
  return server;
}

async function loggedIn(port: number, select = true): Promise<LineClient> {
  const client = await imap.connect(port);
  expect(await client.readLine()).toMatch(/^\* OK /);
  expect((await client.command('a1', `LOGIN ${USER} ${PASSWORD}`)).at(-1)).toMatch(/^a1 OK /);
  if (select) expect((await client.command('a2', 'SELECT INBOX')).at(-1)).toMatch(/^a2 OK /);
  return client;
}

/** `count` distinct keywords named `prefix0`, `prefix1`, … */
const keywords = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** The flags of every message, as the store has them. */
async function storedFlags(server: TestServer): Promise<string[][]> {
  const inbox = server.store.findMailbox(USER, 'INBOX')!;
  return (await server.store.listMessages(inbox.id)).map((record) => record.flags);
}

describe('keyword limits', () => {
  test('the limits are 64-byte keywords, 64 keywords per message, 256 per mailbox', () => {
    expect([MAX_KEYWORD_LENGTH, MAX_KEYWORDS_PER_MESSAGE, MAX_KEYWORDS_PER_MAILBOX]).toEqual([64, 64, 256]);
  });

  test('a keyword over 64 bytes is BAD; 64 bytes is fine', async () => {
    const server = await withMessages(1);
    const client = await loggedIn(server.port);
    expect(await client.command('s1', `STORE 1 +FLAGS (${'k'.repeat(65)})`)).toEqual([
      `s1 BAD Keywords may be at most ${MAX_KEYWORD_LENGTH} bytes long`,
    ]);
    expect(await storedFlags(server)).toEqual([[]]);
    const longest = 'k'.repeat(64);
    expect(await client.command('s2', `STORE 1 +FLAGS.SILENT (${longest})`)).toEqual([
      `* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft ${longest})`,
      `* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft ${longest} \\*)] Flags permitted`,
      's2 OK STORE completed',
    ]);
    expect(await storedFlags(server)).toEqual([[longest]]);
  });

  test('more than 64 keywords on one message is NO [LIMIT] and changes nothing, in one STORE or several', async () => {
    const server = await withMessages(2);
    const client = await loggedIn(server.port);
    const limit = `NO [LIMIT] A message may carry at most ${MAX_KEYWORDS_PER_MESSAGE} keywords`;
    expect(await client.command('s1', `STORE 1:2 +FLAGS.SILENT (${keywords('k', 65).join(' ')})`)).toEqual([`s1 ${limit}`]);
    expect(await client.command('s2', `STORE 1 FLAGS.SILENT (${keywords('k', 65).join(' ')})`)).toEqual([`s2 ${limit}`]);
    expect(await storedFlags(server)).toEqual([[], []]);
    // 64 fit; one more on message 1 is refused by the store, message 2 (not yet full) is left alone too.
    expect((await client.command('s3', `STORE 1 +FLAGS.SILENT (${keywords('k', 64).join(' ')})`)).at(-1)).toBe('s3 OK STORE completed');
    expect(await client.command('s4', 'STORE 1:2 +FLAGS.SILENT (one-more)')).toEqual([`s4 ${limit}`]);
    expect(await storedFlags(server)).toEqual([keywords('k', 64), []]);
    // System flags are not limited, and removing always works.
    expect(await client.command('s5', 'STORE 1 +FLAGS (\\Seen \\Flagged \\Answered \\Draft \\Deleted)')).toHaveLength(2);
    expect((await client.command('s6', 'STORE 1 -FLAGS.SILENT (k0 k1)')).at(-1)).toBe('s6 OK STORE completed');
    expect((await storedFlags(server))[0]).toHaveLength(62 + 5);
  });

  test('the reviewer case: a 60 KB line of 12,000 keywords on 300 messages is refused at once, nothing is written', async () => {
    const server = await withMessages(300);
    const client = await loggedIn(server.port);
    const many = Array.from({ length: 12_000 }, (_, i) => `k${i.toString(36)}`);
    const before = process.memoryUsage().heapUsed;
    const reply = await client.command('s1', `STORE 1:* +FLAGS.SILENT (${many.join(' ')})`);
    expect(reply).toEqual([`s1 NO [LIMIT] A message may carry at most ${MAX_KEYWORDS_PER_MESSAGE} keywords`]);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1024 * 1024);
    expect((await storedFlags(server)).every((flags) => flags.length === 0)).toBe(true);
  });

  test('at 256 distinct keywords per mailbox: PERMANENTFLAGS without \\*, new keywords NO [LIMIT], known ones still work', async () => {
    const server = await withMessages(5);
    const client = await loggedIn(server.port);
    // 4 messages × 64 distinct keywords = 256; the STORE that reaches the limit announces it.
    for (let m = 1; m <= 3; m++) {
      expect((await client.command(`s${m}`, `STORE ${m} +FLAGS.SILENT (${keywords(`m${m}-`, 64).join(' ')})`)).at(-1)).toBe(
        `s${m} OK STORE completed`,
      );
    }
    const last = await client.command('s4', `STORE 4 +FLAGS.SILENT (${keywords('m4-', 64).join(' ')})`);
    expect(last).toHaveLength(3);
    expect(last[1]).toMatch(/^\* OK \[PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft m1-0 .* m4-63\)\] Flags permitted$/);
    expect(last[1]).not.toContain('\\*');
    expect(last[2]).toBe('s4 OK STORE completed');

    const limit = `NO [LIMIT] A mailbox may hold at most ${MAX_KEYWORDS_PER_MAILBOX} distinct keywords; no new ones can be added`;
    expect(await client.command('s5', 'STORE 5 +FLAGS (brand-new)')).toEqual([`s5 ${limit}`]);
    expect(await client.command('s6', 'STORE 5 +FLAGS (M1-0 \\Seen)')).toEqual([
      '* 5 FETCH (FLAGS (M1-0 \\Seen \\Recent))',
      's6 OK STORE completed',
    ]);
    expect(await client.command('s7', 'STORE 5 +FLAGS (\\Flagged)')).toEqual([
      '* 5 FETCH (FLAGS (M1-0 \\Seen \\Flagged \\Recent))',
      's7 OK STORE completed',
    ]);

    // A new session sees the limit at SELECT too.
    const other = await loggedIn(server.port, false);
    const select = await other.command('x1', 'SELECT INBOX');
    const permanent = select.find((line) => line.startsWith('* OK [PERMANENTFLAGS'))!;
    expect(permanent).toContain('m4-63');
    expect(permanent).not.toContain('\\*');

    // APPEND: a new keyword is refused, known keywords and system flags are fine.
    other.send('x2 APPEND INBOX (\\Seen brand-new) {12}\r\n');
    expect(await other.readLine()).toBe('+ Ready for literal data');
    other.send('Subject: x\r\n\r\n');
    expect(await other.readUntilTagged('x2')).toEqual([`x2 ${limit}`]);
    other.send('x3 APPEND INBOX (\\Seen m2-5) {12}\r\n');
    expect(await other.readLine()).toBe('+ Ready for literal data');
    other.send('Subject: x\r\n\r\n');
    expect((await other.readUntilTagged('x3')).at(-1)).toMatch(/^x3 OK \[APPENDUID \d+ 6\] APPEND completed$/);
    expect((await storedFlags(server)).at(-1)).toEqual(['\\Seen', 'm2-5']);
    expect(await other.pending()).toBe('');

    // The store refuses by itself too, whoever calls it.
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    await expect(server.store.storeFlags(inbox.id, [5], 'add', ['brand-new'])).rejects.toBeInstanceOf(KeywordLimitError);

    // Freeing keywords makes room again.
    expect((await client.command('s8', `STORE 4 -FLAGS.SILENT (${keywords('m4-', 64).join(' ')})`)).at(-1)).toBe('s8 OK STORE completed');
    expect((await client.command('s9', 'STORE 5 +FLAGS.SILENT (brand-new)')).at(-1)).toBe('s9 OK STORE completed');
  });

  test('APPEND: a keyword over 64 bytes is BAD and over 64 keywords NO [LIMIT], both before the literal', async () => {
    const server = await withMessages(0);
    const client = await loggedIn(server.port, false);
    expect(await client.command('p1', `APPEND INBOX (${'k'.repeat(65)}) {8}`)).toEqual([
      `p1 BAD Keywords may be at most ${MAX_KEYWORD_LENGTH} bytes long`,
    ]);
    expect(await client.command('p2', `APPEND INBOX (${keywords('k', 65).join(' ')}) {8}`)).toEqual([
      `p2 NO [LIMIT] A message may carry at most ${MAX_KEYWORDS_PER_MESSAGE} keywords`,
    ]);
    client.send(`p3 APPEND INBOX (${keywords('k', 64).join(' ')} \\Seen) {12}\r\n`);
    expect(await client.readLine()).toBe('+ Ready for literal data');
    client.send('Subject: x\r\n\r\n');
    expect((await client.readUntilTagged('p3')).at(-1)).toMatch(/^p3 OK \[APPENDUID \d+ 1\] APPEND completed$/);
    expect(await storedFlags(server)).toEqual([[...keywords('k', 64), '\\Seen']]);
    expect(await client.pending()).toBe('');
  });
});
