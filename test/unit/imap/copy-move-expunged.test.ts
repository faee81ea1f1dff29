// COPY/MOVE of a message another session already expunged (its EXPUNGE still pending for this
// session): NO [EXPUNGEISSUED] (RFC 5530 §3) and nothing is copied or moved, so a NO means nothing
// happened (RFC 3501 §6.4.7 asks an unsuccessful COPY to leave the target as it was). The client hears
// the EXPUNGE before the NO.
import { describe, expect, test } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { USER, type LineClient, type TestServer } from '../../helpers/imap-server.js';

const imap = serverPerTest();

/** A server with 3 messages in INBOX; session A has them selected, session B expunged UID 2. */
async function expungedUnderA(): Promise<{ server: TestServer; a: LineClient }> {
  const server = await imap.start();
  const inbox = server.store.findMailbox(USER, 'INBOX')!;
  for (let i = 1; i <= 3; i++) await server.store.appendMessage(inbox.id, Buffer.from(`Subject: ${i}\r\n\r\nhello ${i}\r\n`));
  const a = await imap.loggedIn(server.port);
  const b = await imap.loggedIn(server.port);
  expect((await b.command('b1', 'STORE 2 +FLAGS.SILENT (\\Deleted)')).at(-1)).toBe('b1 OK STORE completed');
  expect(await b.command('b2', 'EXPUNGE')).toEqual(['* 2 EXPUNGE', 'b2 OK EXPUNGE completed']);
  // A FETCH holds the EXPUNGE back (RFC 3501 §7.4.1), so A still numbers UID 2 as message 2.
  expect(await a.command('f1', 'FETCH 2 UID')).toEqual(['* 2 FETCH (UID 2)', 'f1 OK FETCH completed']);
  return { server, a };
}

async function messageCount(store: Store, name: string): Promise<number> {
  return (await store.listMessages(store.findMailbox(USER, name)!.id)).length;
}

const issued = (tag: string) => `${tag} NO [EXPUNGEISSUED] Some of the messages no longer exist`;

describe('COPY/MOVE of a message expunged by another session', () => {
  test('COPY: NO [EXPUNGEISSUED] after the EXPUNGE, nothing copied', async () => {
    const { server, a } = await expungedUnderA();
    expect(await a.command('c1', 'COPY 1:3 Trash')).toEqual(['* 2 EXPUNGE', '* 2 RECENT', issued('c1')]);
    expect(await messageCount(server.store, 'Trash')).toBe(0);
    // Told of the expunge, the client can copy what is left.
    expect((await a.command('c2', 'COPY 1:2 Trash')).at(-1)).toMatch(/^c2 OK \[COPYUID \d+ 1,3 1:2\] COPY completed$/);
  });

  test('UID COPY of only the expunged UID: NO [EXPUNGEISSUED], no COPYUID', async () => {
    const { server, a } = await expungedUnderA();
    expect(await a.command('c1', 'UID COPY 2 Trash')).toEqual(['* 2 EXPUNGE', '* 2 RECENT', issued('c1')]);
    expect(await messageCount(server.store, 'Trash')).toBe(0);
  });

  test('MOVE: NO [EXPUNGEISSUED], nothing moved', async () => {
    const { server, a } = await expungedUnderA();
    expect(await a.command('m1', 'MOVE 2:3 Trash')).toEqual(['* 2 EXPUNGE', '* 2 RECENT', issued('m1')]);
    expect(await messageCount(server.store, 'Trash')).toBe(0);
    expect(await messageCount(server.store, 'INBOX')).toBe(2);
  });

  // No client can hit the window between the command's check and the store's turn on purpose, so these
  // tests open it: the next copy (or move) in the store is preceded by another expunge of UID 3.
  function expungeFirst(store: Store, method: 'copyMessages' | 'moveMessages', mailboxId: number, uid: number): void {
    const original = store[method].bind(store);
    store[method] = async (...args) => {
      store[method] = original;
      await store.expungeMessages(mailboxId, [uid]);
      return original(...args);
    };
  }

  test('an expunge that lands between the check and the COPY: the copies made are removed again', async () => {
    const { server, a } = await expungedUnderA();
    expect(await a.command('n1', 'NOOP')).toEqual(['* 2 EXPUNGE', '* 2 RECENT', 'n1 OK NOOP completed']);
    expungeFirst(server.store, 'copyMessages', server.store.findMailbox(USER, 'INBOX')!.id, 3);
    expect(await a.command('c1', 'COPY 1:2 Trash')).toEqual(['* 2 EXPUNGE', '* 1 RECENT', issued('c1')]);
    expect(await messageCount(server.store, 'Trash')).toBe(0);
  });

  test('an expunge that lands between the check and the MOVE: what still existed moved, with its COPYUID (RFC 6851 §3.3)', async () => {
    const { server, a } = await expungedUnderA();
    expect(await a.command('n1', 'NOOP')).toEqual(['* 2 EXPUNGE', '* 2 RECENT', 'n1 OK NOOP completed']);
    expungeFirst(server.store, 'moveMessages', server.store.findMailbox(USER, 'INBOX')!.id, 3);
    const reply = await a.command('m1', 'MOVE 1:2 Trash');
    expect(reply).toHaveLength(5);
    expect(reply[0]).toMatch(/^\* OK \[COPYUID \d+ 1 1\] Moved$/);
    expect(reply.slice(1)).toEqual(['* 1 EXPUNGE', '* 1 EXPUNGE', '* 0 RECENT', issued('m1')]);
    expect(await messageCount(server.store, 'Trash')).toBe(1);
    expect(await messageCount(server.store, 'INBOX')).toBe(0);
  });
});
