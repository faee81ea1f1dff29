/**
 * The selected mailbox as one session sees it (src/downstream/imap/session-view.ts), over a real store:
 * the view tells its client of other sessions' changes and never of its own (it recognises them by the
 * mod-sequence its STORE got back, as the store's change feed names no session), and a failed read
 * leaves the news it was about to announce owed rather than lost.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MailStore } from '../../../src/downstream/imap/backend.js';
import { ResponseOutput } from '../../../src/downstream/imap/output.js';
import { RecentTracker } from '../../../src/downstream/imap/recent.js';
import { SessionView } from '../../../src/downstream/imap/session-view.js';
import { Store } from '../../../src/store/index.js';
import { simpleMessage } from '../../helpers/messages.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';

/** What a view's sync sends, line by line. */
async function synced(view: SessionView): Promise<string[]> {
  const socket = new PassThrough();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const out = new ResponseOutput(socket);
  await view.sync(out, { expunges: true });
  out.flush();
  await new Promise((resolve) => setImmediate(resolve));
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\r\n')
    .filter((line) => line.length > 0);
}

describe('SessionView', () => {
  let dir: string;
  let store: Store;
  let inboxId: number;

  beforeEach(async () => {
    dir = tempDir();
    store = await Store.open(dir, { accounts: [ALICE] });
    inboxId = store.findMailbox(ALICE, 'INBOX')!.id;
    await store.appendMessage(inboxId, simpleMessage(1));
    await store.appendMessage(inboxId, simpleMessage(2));
  });

  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  // Every session starts with the messages that exist claimed (as after a restart), so none is \Recent.
  const open = (door: MailStore = store) =>
    SessionView.open(door, new RecentTracker([store.getMailbox(inboxId)!]), store.getMailbox(inboxId)!, false);

  it('does not echo its own flag change, and tells another session of it', async () => {
    const mine = await open();
    const other = await open();
    const { changed } = await store.storeFlags(inboxId, [1], 'add', ['\\Seen']);
    mine.applyOwnFlags(changed);
    expect(await synced(mine)).toEqual([]);
    expect(await synced(other)).toEqual(['* 1 FETCH (UID 1 FLAGS (\\Seen))']);
  });

  it('still reports a change another session made to the same message before its own STORE returned', async () => {
    const mine = await open();
    // Both writes are queued at once: the other session's change is announced before this session's
    // STORE gets its answer back.
    const [own] = await Promise.all([
      store.storeFlags(inboxId, [2], 'add', ['\\Seen']),
      store.storeFlags(inboxId, [2], 'add', ['\\Flagged']),
    ]);
    mine.applyOwnFlags(own.changed);
    expect(mine.at(2).flags).toEqual(['\\Seen', '\\Flagged']);
    expect(await synced(mine)).toEqual(['* 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged))']);
  });

  it('keeps an EXISTS owed when reading the new messages fails, and sends it at the next sync', async () => {
    // A mock where no real part fails on demand: the store's door whose message read fails once.
    let failNext = false;
    const door: MailStore = Object.assign(Object.create(store) as Store, {
      listMessages: (mailboxId: number) => {
        if (!failNext) return store.listMessages(mailboxId);
        failNext = false;
        return Promise.reject(new Error('read failed'));
      },
    });
    const view = await open(door);
    await store.appendMessage(inboxId, simpleMessage(3));
    failNext = true;
    expect(await synced(view)).toEqual([]);
    expect(view.hasPending()).toBe(true);
    expect(await synced(view)).toEqual(['* 3 EXISTS', '* 1 RECENT']);
  });

  it("shares the store's list until it differs from it, and never changes the store's copy", async () => {
    const view = await open();
    const storeList = await store.listMessages(inboxId);
    // Nothing changed yet: the view holds the store's array, not a copy of its own.
    expect(view.messages()).toBe(storeList);
    const before = storeList.map((record) => ({ uid: record.uid, flags: [...record.flags] }));

    await store.storeFlags(inboxId, [1], 'add', ['\\Flagged']);
    expect(view.messages()).not.toBe(storeList);
    expect(view.at(1).flags).toEqual(['\\Flagged']);
    await store.appendMessage(inboxId, simpleMessage(3));
    expect(await synced(view)).toEqual(['* 3 EXISTS', '* 1 RECENT', '* 1 FETCH (UID 1 FLAGS (\\Flagged))']);
    expect(view.messages().map((record) => record.uid)).toEqual([1, 2, 3]);

    // The array the store handed out is as it was; the store's current list has both changes.
    expect(storeList.map((record) => ({ uid: record.uid, flags: [...record.flags] }))).toEqual(before);
    const now = await store.listMessages(inboxId);
    expect(now.map((record) => [record.uid, record.flags])).toEqual([
      [1, ['\\Flagged']],
      [2, []],
      [3, []],
    ]);
  });
});
