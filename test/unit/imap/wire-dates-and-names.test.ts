// Dates and mailbox names as the wire gives them:
// - `date`/`date-time` years 0000-0099 are those years (Date.UTC read them as 19xx), and a day that does
//   not exist (31-Feb) is BAD instead of rolling over into March;
// - modified UTF-7 with an unpaired UTF-16 surrogate is not a name (BAD);
// - "inbox/x" names the same mailbox as "INBOX/x" in every command, as CREATE already stored it (RFC 3501 §5.1).
import { describe, expect, test } from 'vitest';
import { ImapError } from '../../../src/downstream/imap/errors.js';
import { ArgReader } from '../../../src/downstream/imap/wire/args.js';
import { dayOf, formatInternalDate } from '../../../src/downstream/imap/wire/date-time.js';
import { decodeMailboxName } from '../../../src/downstream/imap/wire/mutf7.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { PASSWORD, USER, type LineClient } from '../../helpers/imap-server.js';

const imap = serverPerTest();

async function loggedIn(port: number): Promise<LineClient> {
  const client = await imap.connect(port);
  expect(await client.readLine()).toMatch(/^\* OK /);
  expect((await client.command('a1', `LOGIN ${USER} ${PASSWORD}`)).at(-1)).toMatch(/^a1 OK /);
  return client;
}

const reader = (text: string) => new ArgReader({ segments: [Buffer.from(text, 'latin1')], literals: [] });

/** What ArgReader.date()/dateTime() make of a text, or the BAD text. */
function parsed(read: (args: ArgReader) => number, text: string): number | string {
  try {
    return read(reader(text));
  } catch (err) {
    if (err instanceof ImapError && err.status === 'BAD') return 'BAD';
    throw err;
  }
}

describe('dates', () => {
  test('years below 100 are those years', () => {
    expect(new Date(parsed((a) => a.date(), '1-Jan-0050') as number).toISOString()).toBe('0050-01-01T00:00:00.000Z');
    expect(new Date(parsed((a) => a.dateTime(), '"01-Jan-0050 00:00:00 +0000"') as number).toISOString()).toBe('0050-01-01T00:00:00.000Z');
    expect(new Date(parsed((a) => a.dateTime(), '"31-Dec-0099 23:30:00 -0100"') as number).toISOString()).toBe('0100-01-01T00:30:00.000Z');
    expect(new Date(parsed((a) => a.date(), '29-Feb-0000') as number).toISOString()).toBe('0000-02-29T00:00:00.000Z');
    const year50 = Date.parse('0050-07-04T12:00:00Z');
    expect(formatInternalDate(year50)).toBe('"04-Jul-0050 12:00:00 +0000"');
    expect(new Date(dayOf(year50)).toISOString()).toBe('0050-07-04T00:00:00.000Z');
  });

  test.each(['31-Feb-2021', '29-Feb-2021', '31-Apr-2024', '0-Jan-2024', '32-Jan-2024'])('%s does not exist: BAD', (day) => {
    expect(parsed((a) => a.date(), day)).toBe('BAD');
    expect(parsed((a) => a.dateTime(), `"${day.padStart(11, '0')} 10:00:00 +0000"`)).toBe('BAD');
  });

  test('real days still parse, leap days included', () => {
    expect(parsed((a) => a.date(), '29-Feb-2024')).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(parsed((a) => a.dateTime(), '"31-Dec-2023 23:00:00 -0200"')).toBe(Date.parse('2024-01-01T01:00:00Z'));
    expect(parsed((a) => a.dateTime(), '" 1-Jan-2024 00:00:00 +0100"')).toBe(Date.parse('2023-12-31T23:00:00Z'));
  });

  test('over the wire: APPEND keeps year 0050, SEARCH finds it, 31-Feb is BAD in both', async () => {
    const server = await imap.start();
    const client = await loggedIn(server.port);
    client.send('p1 APPEND INBOX "01-Jan-0050 00:00:00 +0000" {12}\r\n');
    expect(await client.readLine()).toBe('+ Ready for literal data');
    client.send('Subject: x\r\n\r\n');
    expect((await client.readUntilTagged('p1')).at(-1)).toMatch(/^p1 OK \[APPENDUID \d+ 1\] APPEND completed$/);
    // Refused before the literal: the client sends none.
    expect(await client.command('p2', 'APPEND INBOX "31-Feb-2021 10:00:00 +0000" {12}')).toEqual([
      'p2 BAD Invalid date-time "31-Feb-2021 10:00:00 +0000"',
    ]);
    expect((await client.command('s1', 'EXAMINE INBOX')).at(-1)).toMatch(/^s1 OK /);
    expect(await client.command('f1', 'FETCH 1:* INTERNALDATE')).toEqual([
      '* 1 FETCH (INTERNALDATE "01-Jan-0050 00:00:00 +0000")',
      'f1 OK FETCH completed',
    ]);
    expect(await client.command('s2', 'SEARCH ON 1-Jan-0050')).toEqual(['* SEARCH 1', 's2 OK SEARCH completed']);
    expect(await client.command('s3', 'SEARCH BEFORE 1-Jan-1900')).toEqual(['* SEARCH 1', 's3 OK SEARCH completed']);
    expect(await client.command('s4', 'SEARCH ON 1-Jan-1950')).toEqual(['* SEARCH', 's4 OK SEARCH completed']);
    expect((await client.command('s5', 'SEARCH SINCE 31-Feb-2021')).at(-1)).toMatch(/^s5 BAD /);
    expect(await client.pending()).toBe('');
  });
});

describe('modified UTF-7 surrogates', () => {
  test.each([
    ['&2D0-', 'a lone high surrogate'],
    ['&3AA-', 'a lone low surrogate'],
    ['&3ADYPQ-', 'low before high'],
    ['&2D0AQQ-', 'high followed by a non-surrogate'],
    ['&2D0-&3AA-', 'a pair split over two shifts'],
  ])('%s (%s) is not a name', (wire) => {
    expect(decodeMailboxName(wire)).toBeUndefined();
  });

  test('a surrogate pair is one character', () => {
    expect(decodeMailboxName('&2D3cAA-')).toBe('\u{1F400}');
    expect(decodeMailboxName('x&2D3eANg93gE-y')).toBe('x\u{1F600}\u{1F601}y');
  });

  test('over the wire: CREATE with a lone surrogate is NO [CANNOT] and creates nothing', async () => {
    const server = await imap.start();
    const client = await loggedIn(server.port);
    expect(await client.command('c1', 'CREATE &2D0-')).toEqual([
      'c1 NO [CANNOT] The mailbox name is not valid modified UTF-7 (RFC 3501 section 5.1.3)',
    ]);
    expect(await client.command('c2', 'CREATE &2D3cAA-')).toEqual(['c2 OK CREATE completed']);
    expect(server.store.listMailboxes(USER).map((mailbox) => mailbox.name)).toContain('\u{1F400}');
    expect(server.store.listMailboxes(USER).some((mailbox) => /[\ud800-\udfff]/u.test(mailbox.name))).toBe(false);
  });
});

describe('INBOX children in any case', () => {
  test('CREATE inbox/foo, then SELECT, STATUS, APPEND, COPY, RENAME and DELETE by any spelling', async () => {
    const server = await imap.start();
    const client = await loggedIn(server.port);
    expect(await client.command('c1', 'CREATE inbox/foo')).toEqual(['c1 OK CREATE completed']);
    expect(await client.command('c2', 'CREATE Inbox/Foo/')).toEqual(['c2 OK CREATE completed']);
    expect(server.store.listMailboxes(USER).map((mailbox) => mailbox.name)).toEqual(expect.arrayContaining(['INBOX/foo', 'INBOX/Foo']));
    expect(await client.command('c3', 'CREATE INBOX/foo')).toEqual(['c3 NO [ALREADYEXISTS] Mailbox INBOX/foo already exists']);
    expect(await client.command('s1', 'STATUS inbox/foo (MESSAGES)')).toEqual([
      '* STATUS "INBOX/foo" (MESSAGES 0)',
      's1 OK STATUS completed',
    ]);
    client.send('p1 APPEND iNbOx/foo {12}\r\n');
    expect(await client.readLine()).toBe('+ Ready for literal data');
    client.send('Subject: x\r\n\r\n');
    expect((await client.readUntilTagged('p1')).at(-1)).toMatch(/^p1 OK \[APPENDUID \d+ 1\] APPEND completed$/);
    const select = await client.command('s2', 'SELECT inbox/foo');
    expect(select).toContain('* 1 EXISTS');
    expect(select.at(-1)).toBe('s2 OK [READ-WRITE] SELECT completed');
    expect((await client.command('s3', 'COPY 1 inbox/Foo')).at(-1)).toMatch(/^s3 OK \[COPYUID \d+ 1 1\] COPY completed$/);
    expect((await client.command('s4', 'UNSELECT')).at(-1)).toMatch(/^s4 OK /);
    expect(await client.command('s5', 'SUBSCRIBE inbox/foo')).toEqual(['s5 OK SUBSCRIBE completed']);
    expect(await client.command('s6', 'LSUB "" INBOX/*')).toEqual(['* LSUB () "/" "INBOX/foo"', 's6 OK LSUB completed']);
    expect(await client.command('r1', 'RENAME inbox/Foo inbox/bar')).toEqual(['r1 OK RENAME completed']);
    expect(await client.command('d1', 'DELETE inbox/bar')).toEqual(['d1 OK DELETE completed']);
    expect(await client.command('d2', 'DELETE inbox/foo')).toEqual(['d2 OK DELETE completed']);
    expect(
      server.store
        .listMailboxes(USER)
        .map((mailbox) => mailbox.name)
        .filter((name) => name.startsWith('INBOX/')),
    ).toEqual([]);
    // Other names keep their case: "Inboxes" is not INBOX's child.
    expect(await client.command('c4', 'CREATE inboxes/x')).toEqual(['c4 OK CREATE completed']);
    expect((await client.command('s7', 'SELECT inboxes/x')).at(-1)).toBe('s7 OK [READ-WRITE] SELECT completed');
  });
});
