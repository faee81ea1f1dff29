// A keyword another session creates is announced (FLAGS, PERMANENTFLAGS) before this session's FETCH
// shows it on a message (RFC 3501 §7.2.6; imaptest reports "Keyword used without being in FLAGS").
import { expect, test } from 'vitest';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { USER } from '../../helpers/imap-server.js';

const imap = serverPerTest();

test('FETCH FLAGS after another session set a new keyword: FLAGS comes first', async () => {
  const server = await imap.start();
  const inbox = server.store.findMailbox(USER, 'INBOX')!;
  await server.store.appendMessage(inbox.id, Buffer.from('Subject: one\r\n\r\nhello\r\n'));
  const a = await imap.loggedIn(server.port);
  const b = await imap.loggedIn(server.port);
  expect((await b.command('b1', 'STORE 1 +FLAGS.SILENT ($Label2)')).at(-1)).toBe('b1 OK STORE completed');
  const reply = await a.command('f1', 'FETCH 1 (FLAGS)');
  expect(reply[0]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label2)');
  expect(reply[1]).toMatch(/^\* OK \[PERMANENTFLAGS \(.*\$Label2.*\)\]/);
  // Then the FETCH, and the other session's change as the update it also is (RFC 3501 §7.4.2).
  expect(reply.slice(2)).toEqual([
    '* 1 FETCH (FLAGS ($Label2 \\Recent))',
    '* 1 FETCH (UID 1 FLAGS ($Label2 \\Recent))',
    'f1 OK FETCH completed',
  ]);
  // Announced once: the next FETCH shows the keyword without a new FLAGS.
  expect(await a.command('f2', 'FETCH 1 (FLAGS)')).toEqual(['* 1 FETCH (FLAGS ($Label2 \\Recent))', 'f2 OK FETCH completed']);
});
