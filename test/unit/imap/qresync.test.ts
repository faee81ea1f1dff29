// QRESYNC when the expunge history no longer reaches back far enough (RFC 7162 §3.2.5.2, §3.2.6 note,
// §5.3): the server keeps only a little history here (vanishedHistoryLimit 2), so a client coming back
// with an old mod-sequence is told every UID it knows that is gone, narrowed by its sequence match data.
// The exact answers (complete history) are in test/transcripts/qresync.txt. Last, a real QRESYNC client
// (imapflow with qresync: true) resynchronises and hears VANISHED live.
import { ImapFlow, type ExpungeEvent, type FlagsEvent } from 'imapflow';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LineClient, PASSWORD, startTestServer, USER, type TestServer } from '../../helpers/imap-server.js';
import { simpleMessage } from '../../helpers/messages.js';

let server: TestServer;
let client: LineClient;
let uidValidity: number;

beforeEach(async () => {
  server = await startTestServer({}, undefined, { vanishedHistoryLimit: 2 });
  const inbox = server.store.findMailbox(USER, 'INBOX')!;
  uidValidity = inbox.uidValidity;
  for (let i = 1; i <= 20; i++) await server.store.appendMessage(inbox.id, simpleMessage(i)); // mod-sequences 2..21
  // A client synchronised here: HIGHESTMODSEQ 21, message n has UID n.
  for (const uid of [3, 5, 17, 19]) await server.store.expungeMessages(inbox.id, [uid]); // 22..25
  // Four single-UID expunges over a limit of two ranges: the third trimmed the history to one range
  // (three quarters of the limit), forgetting the first two; the floor is now 23.
  client = await LineClient.connect(server.port);
  await client.readLine();
  await client.command('a1', `LOGIN ${USER} ${PASSWORD}`);
  await client.command('a2', 'ENABLE QRESYNC');
});

afterEach(async () => {
  client?.close();
  await server?.destroy();
});

const vanishedLines = (lines: string[]) => lines.filter((line) => line.startsWith('* VANISHED'));

describe('QRESYNC with a trimmed expunge history', () => {
  test('the history was trimmed: from its floor on, answers are still exact', async () => {
    expect(server.store.getMailbox(server.store.findMailbox(USER, 'INBOX')!.id)!.vanishedFloor).toBe(23);
    const exact = await client.command('s1', `SELECT INBOX (QRESYNC (${uidValidity} 23 1:20))`);
    expect(vanishedLines(exact)).toEqual(['* VANISHED (EARLIER) 17,19']);
    const newer = await client.command('s2', `SELECT INBOX (QRESYNC (${uidValidity} 24 1:20))`);
    expect(vanishedLines(newer)).toEqual(['* VANISHED (EARLIER) 19']);
  });

  test('an older mod-sequence gets every known UID that is gone, and the changes since', async () => {
    const lines = await client.command('s1', `SELECT INBOX (QRESYNC (${uidValidity} 21 1:20))`);
    expect(vanishedLines(lines)).toEqual(['* VANISHED (EARLIER) 3,5,17,19']);
    // Nothing changed flags since 21: no FETCH.
    expect(lines.filter((line) => / FETCH /.test(line))).toEqual([]);
    expect(lines.at(-1)).toBe('s1 OK [READ-WRITE] SELECT completed');
  });

  test('without known UIDs, 1:<UIDNEXT-1> is meant; UIDs never used are not reported', async () => {
    const lines = await client.command('s1', `SELECT INBOX (QRESYNC (${uidValidity} 21))`);
    expect(vanishedLines(lines)).toEqual(['* VANISHED (EARLIER) 3,5,17,19']);
    const wide = await client.command('s2', `SELECT INBOX (QRESYNC (${uidValidity} 21 1:1000))`);
    expect(vanishedLines(wide)).toEqual(['* VANISHED (EARLIER) 3,5,17,19']);
  });

  test('sequence match data narrows the answer to UIDs above the last pair that still matches', async () => {
    // A client that already knew of the expunges of 3 and 5: its message 4 is UID 6, message 14 is UID 16,
    // and the server agrees, so nothing at or below 16 needs reporting.
    const matched = await client.command('s1', `SELECT INBOX (QRESYNC (${uidValidity} 21 1:20 (1:4,14 1,2,4,6,16)))`);
    expect(vanishedLines(matched)).toEqual(['* VANISHED (EARLIER) 17,19']);
    // A client that knew of nothing: its message 3 is UID 3, but the server's is UID 4. The first
    // mismatch stops the matching, so everything above UID 2 is reported.
    const stale = await client.command('s2', `SELECT INBOX (QRESYNC (${uidValidity} 21 1:20 (1:3,10 1:3,10)))`);
    expect(vanishedLines(stale)).toEqual(['* VANISHED (EARLIER) 3,5,17,19']);
    // A message number beyond the mailbox does not match either.
    const beyond = await client.command('s3', `SELECT INBOX (QRESYNC (${uidValidity} 21 1:20 (1:2,40 1:2,40)))`);
    expect(vanishedLines(beyond)).toEqual(['* VANISHED (EARLIER) 3,5,17,19']);
  });

  test('UID FETCH (CHANGEDSINCE VANISHED) with an old mod-sequence reports every gone UID in its set', async () => {
    await client.command('s1', 'SELECT INBOX');
    const lines = await client.command('f1', 'UID FETCH 4:* (FLAGS) (CHANGEDSINCE 21 VANISHED)');
    expect(vanishedLines(lines)).toEqual(['* VANISHED (EARLIER) 5,17,19']);
    expect(lines.at(-1)).toBe('f1 OK UID FETCH completed');
    const recent = await client.command('f2', 'UID FETCH 1:* (FLAGS) (CHANGEDSINCE 24 VANISHED)');
    expect(vanishedLines(recent)).toEqual(['* VANISHED (EARLIER) 19']);
  });

  test('the history keeps working after trimming: new expunges are exact again', async () => {
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    await server.store.storeFlags(inbox.id, [7], 'add', ['\\Flagged']); // 26
    await server.store.expungeMessages(inbox.id, [8, 9]); // 27
    const lines = await client.command('s1', `SELECT INBOX (QRESYNC (${uidValidity} 25 1:20))`);
    expect(vanishedLines(lines)).toEqual(['* VANISHED (EARLIER) 8:9']);
    expect(lines.filter((line) => / FETCH /.test(line))).toEqual(['* 5 FETCH (UID 7 FLAGS (\\Flagged \\Recent) MODSEQ (26))']);
  });
});

describe('a real QRESYNC client (imapflow)', () => {
  test('resynchronises on open and hears expunges as VANISHED while idling', async () => {
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    const imap = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      auth: { user: USER, pass: PASSWORD },
      logger: false,
      qresync: true,
    });
    const expunges: ExpungeEvent[] = [];
    const flags: FlagsEvent[] = [];
    imap.on('expunge', (event: ExpungeEvent) => expunges.push(event));
    imap.on('flags', (event: FlagsEvent) => flags.push(event));
    await imap.connect();
    try {
      // Coming back with HIGHESTMODSEQ 24: the expunge of UID 19 (25) and a flag change since.
      await server.store.storeFlags(inbox.id, [20], 'add', ['\\Flagged']); // 26
      await imap.mailboxOpen('INBOX', { uidValidity, changedSince: 24 });
      expect(expunges).toEqual([expect.objectContaining({ uid: 19, vanished: true, earlier: true })]);
      expect(flags.map((event) => [event.uid, [...event.flags].sort()])).toEqual([[20, ['\\Flagged', '\\Recent']]]);
      // Live: another session expunges UID 20 while this one idles; the event carries the UID.
      expunges.length = 0;
      const idling = imap.idle();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.store.expungeMessages(inbox.id, [20]);
      const deadline = Date.now() + 3_000;
      while (expunges.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(expunges).toEqual([expect.objectContaining({ uid: 20, vanished: true })]);
      expect(expunges[0].earlier).toBeFalsy();
      await imap.noop();
      await idling.catch(() => undefined);
    } finally {
      await imap.logout();
    }
  });
});
