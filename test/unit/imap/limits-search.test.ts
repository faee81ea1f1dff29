// SEARCH cannot monopolise the server: criteria with more than 1,000 keys are refused (BAD) before
// anything is evaluated, and the evaluation gives other sessions a turn between batches of messages.
import { describe, expect, test } from 'vitest';
import { RecentTracker } from '../../../src/downstream/imap/recent.js';
import { searchView } from '../../../src/downstream/imap/search/evaluate.js';
import { MAX_SEARCH_KEYS } from '../../../src/downstream/imap/search/parse.js';
import { SessionView } from '../../../src/downstream/imap/session-view.js';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { USER } from '../../helpers/imap-server.js';

const imap = serverPerTest();

const tooMany = (tag: string) => `${tag} BAD Too many search keys (the limit is ${MAX_SEARCH_KEYS})`;

describe('SEARCH limits', () => {
  test('the limit is 1,000 keys, counted over the whole tree (OR, NOT and parentheses included)', async () => {
    expect(MAX_SEARCH_KEYS).toBe(1000);
    const server = await imap.start();
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    for (let i = 0; i < 3; i++) await server.store.appendMessage(inbox.id, Buffer.from(`Subject: ${i}\r\n\r\nhello\r\n`));
    const client = await imap.loggedIn(server.port);
    expect(await client.command('s1', `SEARCH ${'1:* '.repeat(1000).trim()}`)).toEqual(['* SEARCH 1 2 3', 's1 OK SEARCH completed']);
    expect(await client.command('s2', `SEARCH ${'1:* '.repeat(1001).trim()}`)).toEqual([tooMany('s2')]);
    // 333 × (OR + 2 keys) + ALL = 1000 keys; one more pair is over.
    expect(await client.command('s3', `SEARCH ${'OR SEEN 2 '.repeat(333)}ALL`)).toEqual(['* SEARCH 2', 's3 OK SEARCH completed']);
    expect(await client.command('s4', `SEARCH ${'OR SEEN 2 '.repeat(334)}ALL`)).toEqual([tooMany('s4')]);
    expect(await client.command('s5', `SEARCH ${'NOT 9 '.repeat(501)}`)).toEqual([tooMany('s5')]);
    expect(await client.command('s6', `SEARCH ${'(ALL) '.repeat(501)}`)).toEqual([tooMany('s6')]);
    expect(await client.command('s7', `UID SEARCH ${'UNDELETED '.repeat(6_000).trim()}`)).toEqual([tooMany('s7')]);
    // The session goes on.
    expect(await client.command('s8', 'SEARCH UNSEEN')).toEqual(['* SEARCH 1 2 3', 's8 OK SEARCH completed']);
  });

  test('the evaluation yields to the event loop between batches of messages', async () => {
    const server = await imap.start();
    const inbox = server.store.findMailbox(USER, 'INBOX')!;
    const count = 600;
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, k) => server.store.appendMessage(inbox.id, Buffer.from(`Subject: ${i + k}\r\n\r\nhello\r\n`))),
      );
    }
    const view = await SessionView.open(server.store, new RecentTracker([]), server.store.findMailbox(USER, 'INBOX')!, true);
    try {
      // Only keys decided from the message records: without yielding, nothing else could run until
      // the whole mailbox was scanned.
      let turns = 0;
      let running = true;
      const otherWork = () => {
        turns++;
        if (running) setImmediate(otherWork);
      };
      setImmediate(otherWork);
      const found = await searchView(server.store, view, { type: 'flag', flag: '\\Seen', set: false });
      running = false;
      expect(found).toHaveLength(count);
      // 600 messages are 3 batches of 256: other work ran between them.
      expect(turns).toBeGreaterThanOrEqual(2);
    } finally {
      view.close();
    }
  });
});
