// The server's change feed sorted by mailbox: each view hears only its own mailbox, and the server
// holds one subscription to the store's feed exactly while some view listens.
import { describe, expect, test } from 'vitest';
import { MailboxChanges } from '../../../src/downstream/imap/mailbox-changes.js';
import { ChangeFeed, type StoreChange } from '../../../src/store/index.js';

class CountingFeed extends ChangeFeed {
  subscriptions = 0;
  override subscribe(listener: (change: StoreChange) => void): () => void {
    this.subscriptions++;
    const unsubscribe = super.subscribe(listener);
    return () => {
      this.subscriptions--;
      unsubscribe();
    };
  }
}

describe('MailboxChanges', () => {
  test('routes each change to the listeners of its mailbox only', () => {
    const feed = new CountingFeed();
    const changes = new MailboxChanges(feed);
    const heard: string[] = [];
    const stopA = changes.subscribe(1, (change) => heard.push(`a:${change.kind}`));
    changes.subscribe(1, (change) => heard.push(`b:${change.kind}`));
    changes.subscribe(2, (change) => heard.push(`c:${change.kind}`));
    expect(feed.subscriptions).toBe(1);
    feed.publish({ kind: 'message-added', mailboxId: 1, uid: 5, modseq: 9 });
    feed.publish({ kind: 'messages-expunged', mailboxId: 2, uids: [3], modseq: 10 });
    feed.publish({ kind: 'outbox-changed', account: 'alice@example.test' });
    stopA();
    stopA(); // twice is harmless
    feed.publish({ kind: 'flags-changed', mailboxId: 1, uid: 5, flags: ['\\Seen'], modseq: 11 });
    expect(heard).toEqual(['a:message-added', 'b:message-added', 'c:messages-expunged', 'b:flags-changed']);
  });

  test('lets go of the store feed when the last listener leaves, and subscribes again when needed', () => {
    const feed = new CountingFeed();
    const changes = new MailboxChanges(feed);
    const stop1 = changes.subscribe(1, () => undefined);
    const stop2 = changes.subscribe(2, () => undefined);
    stop1();
    expect(feed.subscriptions).toBe(1);
    stop2();
    expect(feed.subscriptions).toBe(0);
    const heard: number[] = [];
    changes.subscribe(3, (change) => heard.push('mailboxId' in change ? change.mailboxId : 0));
    expect(feed.subscriptions).toBe(1);
    feed.publish({ kind: 'mailbox-deleted', mailboxId: 3, account: 'alice@example.test', name: 'Old' });
    expect(heard).toEqual([3]);
  });
});
