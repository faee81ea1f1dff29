// The server's change feed sorted by mailbox, on a real store: each view hears only its own mailbox,
// and the server holds one subscription to the store's feed exactly while some view listens.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MailboxChanges, type ChangeSource } from '../../../src/downstream/imap/mailbox-changes.js';
import { Store, type StoreChange } from '../../../src/store/index.js';
import { closeTempStore, openTempStore } from '../../helpers/temp-store.js';

const ALICE = 'alice@example.test';
let dir: string;
let store: Store;

beforeEach(async () => ({ dir, store } = await openTempStore([ALICE])));
afterEach(() => closeTempStore(store, dir));

/** The store's own feed, counting the subscriptions held on it. */
function counted(feed: ChangeSource): ChangeSource & { subscriptions: number } {
  const wrapper = {
    subscriptions: 0,
    subscribe(listener: (change: StoreChange) => void) {
      wrapper.subscriptions++;
      const unsubscribe = feed.subscribe(listener);
      return () => {
        wrapper.subscriptions--;
        unsubscribe();
      };
    },
  };
  return wrapper;
}

describe('MailboxChanges', () => {
  test('routes each change to the listeners of its mailbox only', async () => {
    const feed = counted(store.changes);
    const changes = new MailboxChanges(feed);
    const inbox = store.findMailbox(ALICE, 'INBOX')!.id;
    const trash = store.findMailbox(ALICE, 'Trash')!.id;
    const heard: string[] = [];
    const stopA = changes.subscribe(inbox, (change) => heard.push(`a:${change.kind}`));
    changes.subscribe(inbox, (change) => heard.push(`b:${change.kind}`));
    changes.subscribe(trash, (change) => heard.push(`c:${change.kind}`));
    expect(feed.subscriptions).toBe(1);
    await store.appendMessage(inbox, Buffer.from('Subject: one\r\n\r\nhello\r\n'));
    await store.copyMessages(inbox, [1], trash);
    await store.createMailbox(ALICE, 'Elsewhere');
    stopA();
    stopA(); // twice is harmless
    await store.storeFlags(inbox, [1], 'add', ['\\Seen']);
    expect(heard).toEqual(['a:message-added', 'b:message-added', 'c:message-added', 'b:flags-changed']);
  });

  test('lets go of the store feed when the last listener leaves, and subscribes again when needed', async () => {
    const feed = counted(store.changes);
    const changes = new MailboxChanges(feed);
    const stop1 = changes.subscribe(1, () => undefined);
    const stop2 = changes.subscribe(2, () => undefined);
    stop1();
    expect(feed.subscriptions).toBe(1);
    stop2();
    expect(feed.subscriptions).toBe(0);
    const inbox = store.findMailbox(ALICE, 'INBOX')!.id;
    const heard: number[] = [];
    changes.subscribe(inbox, (change) => heard.push('mailboxId' in change ? change.mailboxId : 0));
    expect(feed.subscriptions).toBe(1);
    await store.appendMessage(inbox, Buffer.from('Subject: two\r\n\r\nhello\r\n'));
    expect(heard).toEqual([inbox]);
  });
});
