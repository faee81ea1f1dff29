// A message another session expunged stays readable in a session that has not been told yet (RFC 2180
// §4.1; imaptest, the stress tool Dovecot is measured with, expects it): FETCH of its body answers with
// the bytes as they were. Once the session has sent the EXPUNGE (or ends), the store deletes them.
import { describe, expect, test } from 'vitest';
import { StoreError } from '../../../src/store/index.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { USER, type TestServer } from '../../helpers/imap-server.js';

const imap = serverPerTest();
const BODY = 'Subject: one\r\n\r\nthe first message\r\n';

async function blobIsGone(server: TestServer, blobId: string): Promise<boolean> {
  await server.store.settled();
  try {
    await server.store.getBlob(blobId);
    return false;
  } catch (err) {
    if (err instanceof StoreError && err.code === 'not-found') return true;
    throw err;
  }
}

/** Two messages; A has them selected, B expunged the first. Returns A and the expunged message's blob. */
async function expungedUnderA() {
  const server = await imap.start();
  const inbox = server.store.findMailbox(USER, 'INBOX')!;
  await server.store.appendMessage(inbox.id, Buffer.from(BODY));
  await server.store.appendMessage(inbox.id, Buffer.from('Subject: two\r\n\r\nthe second\r\n'));
  const [first] = await server.store.listMessages(inbox.id);
  const a = await imap.loggedIn(server.port);
  const b = await imap.loggedIn(server.port);
  expect((await b.command('b1', 'STORE 1 +FLAGS.SILENT (\\Deleted)')).at(-1)).toBe('b1 OK STORE completed');
  expect(await b.command('b2', 'EXPUNGE')).toEqual(['* 1 EXPUNGE', 'b2 OK EXPUNGE completed']);
  return { server, a, blobId: first.blobId };
}

describe('a message expunged by another session', () => {
  test('FETCH still answers with its bytes, header and structure until the session is told', async () => {
    const { server, a, blobId } = await expungedUnderA();
    expect(await a.command('f1', 'FETCH 1 (BODY.PEEK[] RFC822.SIZE)')).toEqual([
      `* 1 FETCH (BODY[] {${BODY.length}}`,
      'Subject: one',
      '',
      'the first message',
      ` RFC822.SIZE ${BODY.length})`,
      'f1 OK FETCH completed',
    ]);
    expect(await a.command('f2', 'FETCH 1 (ENVELOPE BODY.PEEK[HEADER])')).toEqual([
      '* 1 FETCH (ENVELOPE (NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL) BODY[HEADER] {16}',
      'Subject: one',
      '',
      ')',
      'f2 OK FETCH completed',
    ]);
    expect(await blobIsGone(server, blobId)).toBe(false);
    // Told of the expunge, the session lets go, and the bytes are deleted.
    expect(await a.command('n1', 'NOOP')).toEqual(['* 1 EXPUNGE', '* 1 RECENT', 'n1 OK NOOP completed']);
    expect(await blobIsGone(server, blobId)).toBe(true);
  });

  test('a session that logs out without being told lets go too', async () => {
    const { server, a, blobId } = await expungedUnderA();
    expect(await blobIsGone(server, blobId)).toBe(false);
    const bye = await a.command('l1', 'LOGOUT');
    expect(bye.at(-1)).toBe('l1 OK LOGOUT completed');
    // The server closes the connection once the session is over.
    expect(await a.readLine()).toBeUndefined();
    expect(a.closed).toBe(true);
    expect(await blobIsGone(server, blobId)).toBe(true);
  });

  test('nobody shows it: the bytes go with the expunge', async () => {
    const server = await imap.start();
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    await server.store.appendMessage(inbox.id, Buffer.from(BODY));
    const [first] = await server.store.listMessages(inbox.id);
    const b = await imap.loggedIn(server.port);
    expect((await b.command('b1', 'STORE 1 +FLAGS.SILENT (\\Deleted)')).at(-1)).toBe('b1 OK STORE completed');
    // B holds the message's \Recent: its count goes down with it.
    expect(await b.command('b2', 'EXPUNGE')).toEqual(['* 1 EXPUNGE', '* 0 RECENT', 'b2 OK EXPUNGE completed']);
    expect(await blobIsGone(server, first.blobId)).toBe(true);
  });
});
